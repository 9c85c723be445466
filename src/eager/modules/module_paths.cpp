// The module tree's error paths and its all-or-nothing materialize: a call into a module is a
// frame; an exception of katachi's leaving a child is rethrown once, as the same type, with the
// child's path ("features.2 (lazy_conv2d): ..."); materialize() keeps an undo log and restores
// every module when it fails.
#include <algorithm>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "katachi/eager/modules/module.hpp"
#include "module_paths.hpp"

namespace katachi::eager::nn {

namespace {

// The innermost call into a module on this thread (module::operator(), call_child).
thread_local detail::call_frame* top_frame = nullptr;
// The what() of the last exception a frame rethrew with its path: frames further out pass it on
// unchanged instead of naming it again.
thread_local std::string named_error;
// The undos of the materialize() running on this thread, or null outside one.
thread_local std::vector<std::function<void()>>* materialize_undos = nullptr;

// The dotted path of `child` under `parent` (its name when it is a child, "list.3" when it is a
// child's child ...), or "" when it is not in parent's tree; the first found when it is shared.
std::string path_in(const module& parent, const module& child, std::vector<const module*>& seen) {
    if (std::find(seen.begin(), seen.end(), &parent) != seen.end()) return "";
    seen.push_back(&parent);
    for (const auto& [name, m] : parent.named_children())
        if (m.get() == &child) return name;
    for (const auto& [name, m] : parent.named_children())
        if (std::string below = path_in(*m, child, seen); !below.empty()) return name + "." + below;
    return "";
}

std::string child_name(const module& parent, const module& child) {
    std::vector<const module*> seen;
    return path_in(parent, child, seen);
}

void throw_as(const std::exception& e, const std::string& what);

}  // namespace

void detail::throw_named(const std::exception& e, const std::string& path, const module& m) {
    const std::string type = m.type_name();
    std::string what = e.what();
    if (what.starts_with(type + ": ")) what.erase(0, type.size() + 2);
    std::ostringstream named;  // a stream: g++ 12 warns (-Wrestrict, falsely) on long + chains
    named << path << " (" << type << "): " << what;
    throw_as(e, named.str());
}

namespace {

// Throws an exception of the type of `e` (one of katachi's) with the message `what`; returns if
// the type is one it does not know how to remake.
void throw_as(const std::exception& e, const std::string& what) {
    const std::type_info& type = typeid(e);
    const auto again = [&]<class E>() {
        if (type != typeid(E)) return;
        named_error = what;
        throw E(what);
    };
    again.operator()<shape_mismatch>();
    again.operator()<uninitialized_parameter_error>();
    again.operator()<autograd_error>();
    again.operator()<std::invalid_argument>();
    again.operator()<std::domain_error>();
    again.operator()<std::length_error>();
    again.operator()<std::out_of_range>();
    again.operator()<std::logic_error>();
    again.operator()<std::runtime_error>();
    again.operator()<std::range_error>();
    again.operator()<std::overflow_error>();
    again.operator()<std::underflow_error>();
}


}  // namespace

sizes module::materialize(const sizes& input) {
    if (materialize_undos) return materialize_tree(input);  // part of an outer materialize()
    std::vector<std::function<void()>> undos;
    materialize_undos = &undos;
    try {
        const sizes out = materialize_tree(input);
        materialize_undos = nullptr;
        return out;
    } catch (...) {
        materialize_undos = nullptr;
        for (auto it = undos.rbegin(); it != undos.rend(); ++it) (*it)();
        throw;
    }
}

sizes module::materialize_tree(const sizes& input) {
    materialize_own(input);
    return output_shape(input);
}

namespace detail {

void on_materialize_failure(std::function<void()> undo) {
    if (materialize_undos) materialize_undos->push_back(std::move(undo));
}

void materialize_tensor(const tensor& t, const sizes& shape) {
    tensor_impl<float>* impl = t.impl();
    if (materialize_undos) materialize_undos->push_back([impl, handle = t, saved = *impl] { *impl = saved; });
    const tensor fresh = tensor::empty(shape);
    impl->store = fresh.impl()->store;
    impl->offset = 0;
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    impl->uninitialized = false;
    impl->label.clear();
}

parameter uninitialized_parameter(const std::string& label) {
    return parameter(tensor::uninitialized(label));
}

call_frame::call_frame(const module& m, const std::string* name, const module* parent) noexcept
    : module_(&m), name_(name), parent_(parent), below_(top_frame), previous_owner_(eager::detail::op_owner()) {
    top_frame = this;
    eager::detail::op_owner() = &m;
}

call_frame::~call_frame() {
    top_frame = below_;
    eager::detail::op_owner() = previous_owner_;
}

void call_frame::rethrow_with_path() const {
    try {
        throw;
    } catch (const std::exception& e) {
        if (named_error == e.what()) throw;  // an inner frame has named it
        // The path: each frame's name in the module of the frame below it, as far as it is known.
        std::vector<std::string> parts;
        const module* top = nullptr;  // where the frames give out, if they name no further
        for (const call_frame* f = this; f; f = f->below_) {
            const module* below = f->below_ ? f->below_->module_ : nullptr;
            std::string name = f->name_ ? *f->name_ : below ? child_name(*below, *f->module_) : "";
            if (name.empty()) {
                if (!below) top = f->module_;
                break;
            }
            parts.push_back(std::move(name));
            // A container whose own forward was called directly (not through a frame): its name
            // in the module below, if it is that module's child.
            if (f->parent_ && f->parent_ != below) {
                std::string container = below ? child_name(*below, *f->parent_) : "";
                if (container.empty()) {
                    if (!below) top = f->parent_;
                    break;
                }
                parts.push_back(std::move(container));
            }
        }
        // Above the outermost module called: its registrations, while each has exactly one.
        if (top) top->registered_path(parts);
        if (parts.empty()) throw;  // the outermost module: its own message says what it is
        std::string path;
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) path += (path.empty() ? "" : ".") + *it;
        throw_named(e, path, *module_);
        throw;
    }
}

}  // namespace detail

}  // namespace katachi::eager::nn
