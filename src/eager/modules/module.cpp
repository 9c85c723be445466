// The module base: registry, traversal, modes, state dicts and printing.
#include "katachi/eager/modules/module.hpp"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <typeinfo>

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

// Throws `e` again, as its type, as an error of the module `m` at `path`:
//   features.2 (lazy_conv2d): <the message, less a leading "lazy_conv2d: ">
// Returns if the type is not one of katachi's (the caller rethrows it unchanged).
void throw_named(const std::exception& e, const std::string& path, const module& m) {
    const std::string type = m.type_name();
    std::string what = e.what();
    if (what.starts_with(type + ": ")) what.erase(0, type.size() + 2);
    std::ostringstream named;  // a stream: g++ 12 warns (-Wrestrict, falsely) on long + chains
    named << path << " (" << type << "): " << what;
    throw_as(e, named.str());
}

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

void check_name(const module& m, const std::string& name, const char* what) {
    if (name.empty() || name.find('.') != std::string::npos)
        throw std::invalid_argument(m.type_name() + ": the " + what + " name \"" + name +
                                    "\" must be non-empty and contain no '.'");
}

std::string join(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
}

std::string list_text(const std::vector<std::string>& keys) {
    std::string s;
    for (const auto& k : keys) s += (s.empty() ? "\"" : ", \"") + k + "\"";
    return s;
}

}  // namespace

module::~module() {
    for (const auto& [name, child] : children_) std::erase(child->registered_in_, this);
}

module::module(module&& other) noexcept
    : parameters_(std::move(other.parameters_)),
      buffers_(std::move(other.buffers_)),
      children_(std::move(other.children_)),
      training_(other.training_) {
    // Whoever registered `other` holds `other`, not this: registered_in_ stays with it.
    for (const auto& [name, child] : children_)
        std::replace(child->registered_in_.begin(), child->registered_in_.end(), &other, this);
}

module& module::operator=(module&& other) noexcept {
    if (this == &other) return *this;
    for (const auto& [name, child] : children_) std::erase(child->registered_in_, this);
    parameters_ = std::move(other.parameters_);
    buffers_ = std::move(other.buffers_);
    children_ = std::move(other.children_);
    training_ = other.training_;
    other.children_.clear();
    for (const auto& [name, child] : children_)
        std::replace(child->registered_in_.begin(), child->registered_in_.end(), &other, this);
    return *this;
}

void module::registered_path(std::vector<std::string>& names) const {
    const module* m = this;
    for (std::size_t guard = 0; m->registered_in_.size() == 1 && guard < 10000; ++guard) {
        const module* parent = m->registered_in_.front();
        std::string name;
        for (const auto& [n, child] : parent->named_children())
            if (child.get() == m) name = n;
        if (name.empty()) break;
        names.push_back(std::move(name));
        m = parent;
    }
}

tensor module::forward(const tensor&) {
    throw std::logic_error(type_name() + ": this module has no single-tensor forward(x)");
}

tensor module::operator()(const tensor& x) {
    detail::call_frame frame(*this, nullptr, nullptr);
    try {
        return forward(x);
    } catch (...) {
        frame.rethrow_with_path();
    }
}

sizes module::output_shape(const sizes&) const {
    throw std::logic_error(type_name() + ": this module cannot compute its output shape without data");
}

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

bool module::has_uninitialized_params() const {
    for (const auto& [name, t] : named_parameters())
        if (t.is_uninitialized()) return true;
    for (const auto& [name, t] : named_buffers())
        if (t.is_uninitialized()) return true;
    return false;
}

tensor module::register_parameter(std::string name, tensor t) {
    check_name(*this, name, "parameter");
    if (t.defined()) t.impl()->requires_grad = true;
    parameters_.emplace_back(std::move(name), t);
    return t;
}

tensor module::register_buffer(std::string name, tensor t) {
    check_name(*this, name, "buffer");
    buffers_.emplace_back(std::move(name), t);
    return t;
}

void module::add_child(std::string name, std::shared_ptr<module> child) {
    check_name(*this, name, "module");
    if (!child) throw std::invalid_argument(type_name() + ": child module \"" + name + "\" is null");
    if (child.get() == this) throw std::invalid_argument(type_name() + ": a module cannot be its own child");
    // A lazy tensor's errors name it by its path from the outermost module it is registered in
    // (this module's own path included, when it is registered already).
    std::vector<std::string> above;
    registered_path(above);
    std::string prefix;
    for (auto it = above.rbegin(); it != above.rend(); ++it) prefix = join(prefix, *it);
    prefix = join(prefix, name);
    for (const auto& named : {child->named_parameters(), child->named_buffers()})
        for (const auto& [path, t] : named)
            if (t.is_uninitialized()) t.impl()->label = join(prefix, path);
    child->registered_in_.push_back(this);
    children_.emplace_back(std::move(name), std::move(child));
}

template <class F>
void module::visit_modules(const std::string& prefix, std::vector<const module*>& seen, F&& f) const {
    if (std::find(seen.begin(), seen.end(), this) != seen.end()) return;
    seen.push_back(this);
    f(prefix, *this);
    for (const auto& [name, child] : children_) child->visit_modules(join(prefix, name), seen, f);
}

std::vector<std::pair<std::string, tensor>> module::named_parameters(bool recurse) const {
    std::vector<std::pair<std::string, tensor>> out;
    std::vector<const void*> seen_tensors;
    std::vector<const module*> seen_modules;
    const auto take = [&](const std::string& prefix, const module& m) {
        for (const auto& [name, t] : m.parameters_) {
            if (std::find(seen_tensors.begin(), seen_tensors.end(), t.impl()) != seen_tensors.end()) continue;
            seen_tensors.push_back(t.impl());
            out.emplace_back(join(prefix, name), t);
        }
    };
    if (recurse)
        visit_modules("", seen_modules, take);
    else
        take("", *this);
    return out;
}

std::vector<tensor> module::parameters(bool recurse) const {
    std::vector<tensor> out;
    for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
    return out;
}

std::vector<std::pair<std::string, tensor>> module::named_buffers(bool recurse) const {
    std::vector<std::pair<std::string, tensor>> out;
    std::vector<const void*> seen_tensors;
    std::vector<const module*> seen_modules;
    const auto take = [&](const std::string& prefix, const module& m) {
        for (const auto& [name, t] : m.buffers_) {
            if (std::find(seen_tensors.begin(), seen_tensors.end(), t.impl()) != seen_tensors.end()) continue;
            seen_tensors.push_back(t.impl());
            out.emplace_back(join(prefix, name), t);
        }
    };
    if (recurse)
        visit_modules("", seen_modules, take);
    else
        take("", *this);
    return out;
}

std::vector<tensor> module::buffers(bool recurse) const {
    std::vector<tensor> out;
    for (auto& [name, t] : named_buffers(recurse)) out.push_back(t);
    return out;
}

std::vector<std::shared_ptr<module>> module::children() const {
    std::vector<std::shared_ptr<module>> out;
    for (const auto& [name, child] : children_)
        if (std::find(out.begin(), out.end(), child) == out.end()) out.push_back(child);
    return out;
}

std::vector<std::pair<std::string, module*>> module::named_modules() {
    std::vector<std::pair<std::string, module*>> out;
    std::vector<const module*> seen;
    visit_modules("", seen, [&](const std::string& prefix, const module& m) {
        out.emplace_back(prefix, const_cast<module*>(&m));
    });
    return out;
}

void module::train(bool on) {
    for (auto& [prefix, m] : named_modules()) m->training_ = on;
}

module& module::apply(const std::function<void(module&)>& fn) {
    auto all = named_modules();
    // Children before their parents, as torch.nn.Module.apply does.
    for (auto it = all.rbegin(); it != all.rend(); ++it) fn(*it->second);
    return *this;
}

void module::zero_grad(bool set_to_none) {
    for (auto& t : parameters()) t.zero_grad(set_to_none);
}

module& module::requires_grad_(bool on) {
    for (auto& t : parameters()) t.impl()->requires_grad = on;
    return *this;
}

// ---- state dict ------------------------------------------------------------------------------------

void module::save_own_state(const std::string& prefix, state_map& out) const {
    const auto save = [&](const std::string& name, const tensor& t) {
        if (t.is_uninitialized()) {  // PyTorch's UninitializedParameter: a name, no shape, no values
            io::tensor entry;
            entry.uninitialized = true;
            out.insert_or_assign(prefix + name, std::move(entry));
            return;
        }
        const tensor c = t.contiguous();
        const std::span<const float> values(c.data(), c.numel());
        out.insert_or_assign(
            prefix + name,
            io::tensor::from<float>(values, std::vector<std::size_t>(c.shape().begin(), c.shape().end())));
    };
    for (const auto& [name, t] : parameters_) save(name, t);
    for (const auto& [name, t] : buffers_) save(name, t);
}

void module::load_own_state(const std::string& prefix, const state_map& state, load_plan& plan) {
    const auto load = [&](const std::string& name, const tensor& t) {
        const std::string key = prefix + name;
        const auto it = state.find(key);
        if (it == state.end()) {
            plan.missing(key);
            return;
        }
        plan.use(key);
        const io::tensor& source = it->second;
        if (source.uninitialized) {
            // A lazy module's entry saved before materialisation: nothing to copy into a lazy
            // parameter, which stays as it is; a materialised one has a shape the entry lacks.
            if (t.is_uninitialized()) return;
            throw shape_mismatch("load_state_dict: \"" + key +
                                 "\" is uninitialized in the state dict (taken from a lazy module before it "
                                 "was materialised) but has shape " +
                                 t.shape().str() + " in the " + type_name() + " module");
        }
        if (source.shape.size() > max_rank)
            throw shape_mismatch("load_state_dict: \"" + key + "\" has " + std::to_string(source.shape.size()) +
                                 " dimensions in the state dict; a tensor has at most " +
                                 std::to_string(max_rank));
        const sizes shape(source.shape);
        if (t.is_uninitialized()) {
            plan.keep(t);
            detail::materialize_tensor(t, shape);
        }
        if (!(t.shape() == shape))
            throw shape_mismatch("load_state_dict: \"" + key + "\" has shape " + shape.str() +
                                 " in the state dict but " + t.shape().str() + " in the " + type_name() +
                                 " module");
        // Float parameters take F32, F16, BF16 and F64 (rounded, as PyTorch's copy_ and the graph
        // face do); an integer tensor is refused, naming the key.
        std::vector<float> values;
        if (source.type == io::dtype::i64)
            throw io::safetensors_error("", key, io::safetensors_rule::dtype_mismatch,
                                        "load_state_dict: the state dict holds an I64 tensor where the " +
                                            type_name() + " module has a floating-point one");
        if (source.type == io::dtype::f64) {
            const auto decoded = source.as<double>();
            values.reserve(decoded.size());
            for (const double v : decoded) values.push_back(static_cast<float>(v));
        } else {
            const auto decoded = source.as<float>();
            values.assign(decoded.begin(), decoded.end());
        }
        plan.then([target = t, shape, values = std::move(values)]() mutable {
            no_grad guard;
            target.copy_(tensor::from(std::move(values), shape));
        });
    };
    for (const auto& [name, t] : parameters_) load(name, t);
    for (const auto& [name, t] : buffers_) load(name, t);
}

void module::save_state(const std::string& prefix, state_map& out) const {
    std::vector<const module*> seen;
    visit_modules(prefix, seen, [&](const std::string& p, const module& m) {
        m.save_own_state(p.empty() ? "" : p + ".", out);
    });
}

state_map module::state_dict() const {
    state_map out;
    save_state("", out);
    return out;
}

load_result module::load_state_dict(const state_map& state, bool strict) {
    load_plan plan;
    try {
        for (auto& [prefix, m] : named_modules()) {
            try {
                m->load_own_state(prefix.empty() ? "" : prefix + ".", state, plan);
            } catch (const std::exception& e) {
                // Errors about a key name it already; others (a lazy module refusing the shapes
                // it found) are named by the module's path.
                if (prefix.empty() || std::string_view(e.what()).starts_with("load_state_dict")) throw;
                throw_named(e, prefix, *m);
                throw;
            }
        }
        const std::set<std::string> used(plan.used().begin(), plan.used().end());
        load_result& result = plan.result();
        for (const auto& [key, value] : state)
            if (!used.contains(key)) result.unexpected_keys.push_back(key);
        if (strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty())) {
            std::string what = "load_state_dict: the state dict does not match the " + type_name() + " module";
            if (!result.missing_keys.empty()) what += "; missing keys: " + list_text(result.missing_keys);
            if (!result.unexpected_keys.empty())
                what += "; unexpected keys: " + list_text(result.unexpected_keys);
            throw std::runtime_error(what + " (pass strict = false to load the keys that match)");
        }
    } catch (...) {
        plan.roll_back();
        throw;
    }
    plan.commit();
    return plan.result();
}

void load_plan::keep(const tensor& t) {
    tensor_impl<float>* impl = t.impl();
    on_failure([impl, handle = t, saved = *impl] { *impl = saved; });
}

void load_plan::commit() {
    for (auto& write : writes_) write();
    writes_.clear();
    undos_.clear();
}

void load_plan::roll_back() {
    for (auto it = undos_.rbegin(); it != undos_.rend(); ++it) (*it)();
    undos_.clear();
    writes_.clear();
}

// ---- printing ----------------------------------------------------------------------------------

void module::print(std::ostream& os, int indent) const {
    os << type_name() << "(" << extra_repr();
    if (children_.empty()) {
        os << ")";
        return;
    }
    os << "\n";
    for (const auto& [name, child] : children_) {
        os << std::string(static_cast<std::size_t>(indent + 2), ' ') << "(" << name << "): ";
        child->print(os, indent + 2);
        os << "\n";
    }
    os << std::string(static_cast<std::size_t>(indent), ' ') << ")";
}

std::ostream& operator<<(std::ostream& os, const module& m) {
    m.print(os, 0);
    return os;
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
