// katachi/eager/modules/module.hpp: the module base of the eager face, in the manner of
// torch.nn.Module.
//
// A module registers its parameters, buffers and child modules by name; parameters(),
// named_parameters(), buffers() and children() walk that registry, visiting a parameter or module
// that is shared (registered twice, or reachable along two paths) once. train()/eval() set the mode
// of the whole tree, apply(fn) calls fn on every module (children first), zero_grad() clears
// gradients, requires_grad_(false) freezes. A layer keeps its parameters as public members that
// alias the registered tensors: both handles see one tensor, so materialising a lazy parameter in
// place (or an optimiser stepping it) is visible through either.
//
// state_dict() and load_state_dict() use PyTorch's key names ("0.weight", "bn1.running_mean",
// "num_batches_tracked"); io.hpp saves them as safetensors.
//
// Lazy modules (lazy.hpp) start with uninitialized parameters; has_uninitialized_params() asks,
// materialize(input_shape) fixes them from shape arithmetic alone, and output_shape(input_shape)
// is the same arithmetic for every module, so a sequential can pass a shape along its layers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "katachi/eager/autograd.hpp"
#include "katachi/eager/tensor.hpp"
#include "katachi/io/safetensors.hpp"

namespace katachi::eager::nn {

// A tensor that is a module's learnable leaf: it requires grad from the start (torch.nn.Parameter).
class parameter : public tensor {
public:
    parameter() = default;
    explicit parameter(tensor t) : tensor(std::move(t)) {
        if (defined()) impl()->requires_grad = true;
    }
};

// One step of a custom module's forward as the graph face sees it (module::graph_form).
struct graph_step {
    std::string op;                   // a child's name ("conv1", "layers.0"), or "add" or "concat"
    std::vector<std::string> from{};  // earlier steps' names, or "input"; empty: the step before
    std::string name{};               // how later steps name it; default: op
};

// What load_state_dict found: keys the module expected but the dict lacked, and the reverse.
struct load_result {
    std::vector<std::string> missing_keys;
    std::vector<std::string> unexpected_keys;
};

using state_map = io::tensor_map;  // key -> tensor, as io::save_safetensors takes it

// A load_state_dict in progress. Modules check in their load_own_state everything that could fail
// (keys, shapes, dtypes) and register the writes with then(); nothing is written until every module
// has been checked. Anything a module must change while checking (a lazy module materialises from
// the shapes it finds) registers its undo with on_failure(), run in reverse order if the load fails,
// so a failed load leaves the model as it was.
class load_plan {
public:
    // Marks `key` as consumed, or records it as missing.
    void use(const std::string& key) { used_.push_back(key); }
    void missing(const std::string& key) { result_.missing_keys.push_back(key); }
    // A write to make once every check has passed.
    void then(std::function<void()> write) { writes_.push_back(std::move(write)); }
    // An undo for a change made while checking.
    void on_failure(std::function<void()> undo) { undos_.push_back(std::move(undo)); }
    // Records the current state of a tensor's handle (storage, shape, lazy label) so that it is
    // restored if the load fails; for a lazy parameter about to be materialised.
    void keep(const tensor& t);

    const std::vector<std::string>& used() const noexcept { return used_; }
    load_result& result() noexcept { return result_; }
    void commit();
    void roll_back();

private:
    std::vector<std::string> used_;
    load_result result_;
    std::vector<std::function<void()>> writes_, undos_;
};

class module {
public:
    module() = default;
    virtual ~module() = default;
    module(const module&) = delete;
    module& operator=(const module&) = delete;
    module(module&&) = default;
    module& operator=(module&&) = default;

    // The module's name as printed and compared: "linear", "conv2d", "lazy_linear" (a lazy module
    // answers with its concrete name once materialised).
    virtual std::string type_name() const { return "module"; }

    // The forward pass of a single-input module (sequential calls it). Modules with other
    // signatures define their own forward and leave this one throwing.
    virtual tensor forward(const tensor& x);
    tensor operator()(const tensor& x) { return forward(x); }

    // The output shape for an input shape (batch included), by shape arithmetic alone. Modules
    // that do not know it throw std::logic_error naming themselves.
    virtual sizes output_shape(const sizes& input) const;
    // Materialises every lazy parameter of this module and its children for an input of this
    // shape, running no kernel; returns the output shape. Plain modules only compute the shape.
    virtual sizes materialize(const sizes& input);
    bool has_uninitialized_params() const;

    // ---- registry ------------------------------------------------------------------------------
    // Registers and returns the tensor (a handle to it); a parameter is made to require grad.
    tensor register_parameter(std::string name, tensor t);
    tensor register_buffer(std::string name, tensor t);
    template <class M>
    std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> child) {
        add_child(std::move(name), child);
        return child;
    }

    std::vector<tensor> parameters(bool recurse = true) const;
    std::vector<std::pair<std::string, tensor>> named_parameters(bool recurse = true) const;
    std::vector<tensor> buffers(bool recurse = true) const;
    std::vector<std::pair<std::string, tensor>> named_buffers(bool recurse = true) const;
    std::vector<std::shared_ptr<module>> children() const;
    const std::vector<std::pair<std::string, std::shared_ptr<module>>>& named_children() const {
        return children_;
    }
    // This module ("" ) and every descendant once, with dotted names.
    std::vector<std::pair<std::string, module*>> named_modules();

    // ---- modes and bulk operations ------------------------------------------------------------
    virtual void train(bool on = true);
    void eval() { train(false); }
    bool is_training() const noexcept { return training_; }
    module& apply(const std::function<void(module&)>& fn);
    void zero_grad(bool set_to_none = false);
    module& requires_grad_(bool on = true);

    // ---- state dict ----------------------------------------------------------------------------
    // Every parameter and buffer (and batch norm's num_batches_tracked), keyed as PyTorch keys them.
    // Throws uninitialized_parameter_error when a lazy module is not yet materialised.
    state_map state_dict() const;
    // Copies the values in (F32, F16, BF16, or F64 rounded to float, as PyTorch's copy_ does). A
    // lazy module that is not materialised takes its shapes from the dict. A shape mismatch or an
    // integer tensor where a float one belongs always throws; missing or unexpected
    // keys throw when strict, and are returned otherwise. Everything is checked before anything is
    // written: when it throws, the module (its values, and its lazy parameters' materialisation) is
    // as it was before the call.
    load_result load_state_dict(const state_map& state, bool strict = true);

    // ---- printing ------------------------------------------------------------------------------
    // What goes between the parentheses: "3, 4, bias=true".
    virtual std::string extra_repr() const { return ""; }
    friend std::ostream& operator<<(std::ostream& os, const module& m);

    // ---- the graph face ------------------------------------------------------------------------
    // A custom module's forward as a small DAG of its children joined by add and concat, for
    // nn::graph_source (graph_source.hpp); its last step is the output. Empty (the default): the
    // forward is user code, which the bridge to the graph face cannot check, so it refuses it.
    // Declaring a form is a promise that forward computes it; the bridge tests check the logits.
    virtual std::vector<graph_step> graph_form() const { return {}; }

protected:
    // Adds this module's own entries (not its children's) to a state dict under `prefix`.
    virtual void save_own_state(const std::string& prefix, state_map& out) const;
    // Checks this module's own entries against `state` and plans their copy (see load_plan); it
    // writes nothing itself. Lazy modules materialise from the shapes they find, with an undo.
    virtual void load_own_state(const std::string& prefix, const state_map& state, load_plan& plan);
    // Called by materialize() on every module; lazy modules override it.
    virtual void materialize_own(const sizes& input) { (void)input; }

    void add_child(std::string name, std::shared_ptr<module> child);

private:
    void print(std::ostream& os, int indent) const;
    void save_state(const std::string& prefix, state_map& out) const;
    template <class F>
    void visit_modules(const std::string& prefix, std::vector<const module*>& seen, F&& f) const;

    std::vector<std::pair<std::string, tensor>> parameters_;
    std::vector<std::pair<std::string, tensor>> buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<module>>> children_;
    bool training_ = true;
};

// Values or shared pointers of modules become shared pointers (for the containers).
template <class M>
std::shared_ptr<module> as_module_ptr(M&& m) {
    using D = std::remove_cvref_t<M>;
    if constexpr (requires { typename D::element_type; })
        return std::static_pointer_cast<module>(std::forward<M>(m));
    else
        return std::make_shared<D>(std::forward<M>(m));
}

namespace detail {
// Gives an uninitialized parameter storage of this shape (values unset) in place, so every handle
// to it, an optimiser's included, sees the materialised tensor.
void materialize_tensor(const tensor& t, const sizes& shape);
// Makes a parameter that stays uninitialized until materialised; `label` names it in errors.
parameter uninitialized_parameter(const std::string& label);
}  // namespace detail

}  // namespace katachi::eager::nn
