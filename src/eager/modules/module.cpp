// The module base: registry, traversal, modes, state dicts and printing (the error paths and the
// all-or-nothing materialize are in module_paths.cpp).
#include "katachi/eager/modules/module.hpp"

#include "module_paths.hpp"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <typeinfo>

namespace katachi::eager::nn {

namespace {

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
                detail::throw_named(e, prefix, *m);
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


}  // namespace katachi::eager::nn
