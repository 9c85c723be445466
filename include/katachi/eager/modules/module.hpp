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
// materialize is all or nothing: when it throws, every module is as it was before the call.
//
// Errors name where they happened. A call into a child (operator(), and the containers, which call
// their children through call_child) is a frame of the module tree; an exception of katachi's
// (shape_mismatch, uninitialized_parameter_error, autograd_error, and the standard logic_error and
// runtime_error types) leaving a child is rethrown as the same type with its dotted path in front:
//   features.2 (lazy_conv2d): the input has shape [2, 3], expected rank 4 with channels in dimension 1
// The path is the one state_dict() uses, from the outermost module called, or, when that module
// is itself registered in one parent (and so on up), from the top of that chain of registrations.
// A module called by a direct forward() rather than operator() makes no frame: its errors are
// named by its caller's path. A lazy parameter's errors name it by its registered path
// ("features.2.weight") once its module is registered in a parent (register_module, a container),
// and by the module's type ("lazy_conv2d.weight") before.
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

namespace detail {
class call_frame;
}

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
    virtual ~module();
    module(const module&) = delete;
    module& operator=(const module&) = delete;
    // Moves keep the children's record of their parent (see registered_in_) pointing at the
    // module that holds them.
    module(module&& other) noexcept;
    module& operator=(module&& other) noexcept;

    // The module's name as printed and compared: "linear", "conv2d", "lazy_linear" (a lazy module
    // answers with its concrete name once materialised).
    virtual std::string type_name() const { return "module"; }

    // The forward pass of a single-input module. Modules with other signatures define their own
    // forward and leave this one throwing.
    virtual tensor forward(const tensor& x);
    // forward(x) as a call into this module from the one running (see above: an error from inside
    // names this module's path in it, and the tape's nodes remember the module that made them).
    tensor operator()(const tensor& x);

    // The output shape for an input shape (batch included), by shape arithmetic alone. Modules
    // that do not know it throw std::logic_error naming themselves.
    virtual sizes output_shape(const sizes& input) const;
    // Materialises every lazy parameter of this module and its children for an input of this
    // shape, running no kernel; returns the output shape. Plain modules only compute the shape.
    // All or nothing: if any module fails (a wrong rank at layer 3), every module that this call
    // materialised is restored (its parameters uninitialized again, its options such as
    // in_channels, the default generator's draws), and the exception goes on.
    sizes materialize(const sizes& input);
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
    // Before a lazy module is materialised its entries are there under their names, as PyTorch's
    // UninitializedParameter values are: io::tensor::uninitialized is set and they hold no shape
    // and no bytes. Saving such a dict (save_safetensors, nn::save) fails naming the first one;
    // loading one into a module leaves a lazy parameter as it is.
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
    // What materialize() does inside its all-or-nothing guard: by default materialize_own(input)
    // then output_shape(input); a container materialises its children instead (through
    // call_child, passing the shape along).
    virtual sizes materialize_tree(const sizes& input);
    // Called by materialize_tree() on every module; lazy modules override it. A module that
    // materialises its own tensors uses detail::materialize_tensor, which materialize() can undo;
    // anything else it changes it registers with detail::on_materialize_failure.
    virtual void materialize_own(const sizes& input) { (void)input; }

    // Runs f() as a call into `child`, registered here under `name`: the call is a frame of the
    // module tree (an error leaving it names the child's path; ops recorded in it name the child).
    template <class F>
    decltype(auto) call_child(const std::string& name, const module& child, F&& f) const;

    // Registers `child`; its uninitialized parameters and buffers (and its descendants') are
    // named in errors from then on by their path from the top of this module's registrations
    // ("features.2.weight"), whether the model or the child was filled in first.
    void add_child(std::string name, std::shared_ptr<module> child);

private:
    void print(std::ostream& os, int indent) const;
    // Appends this module's name in its parent, then the parent's in its own, and so on up while
    // each module is registered exactly once (innermost first).
    void registered_path(std::vector<std::string>& names) const;
    void save_state(const std::string& prefix, state_map& out) const;
    template <class F>
    void visit_modules(const std::string& prefix, std::vector<const module*>& seen, F&& f) const;

    std::vector<std::pair<std::string, tensor>> parameters_;
    std::vector<std::pair<std::string, tensor>> buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<module>>> children_;
    bool training_ = true;
    // The modules this one is registered in (once per registration), so that an error can name
    // the path above the outermost module called; kept up to date by moves and destruction.
    std::vector<module*> registered_in_;
    friend class detail::call_frame;
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
// to it, an optimiser's included, sees the materialised tensor. Inside materialize() the change
// is undone if the materialisation fails.
void materialize_tensor(const tensor& t, const sizes& shape);
// Makes a parameter that stays uninitialized until materialised; `label` names it in errors.
parameter uninitialized_parameter(const std::string& label);

// Inside materialize(): registers an undo, run (latest first) if the materialisation fails.
// Outside one it does nothing.
void on_materialize_failure(std::function<void()> undo);

// One call into a module of the tree, on a per-thread stack: module::operator() and call_child
// push one. `name` is the module's name in `parent` when the caller knows them (a container
// calling its child does; operator() leaves both null, and the name is looked up in the module
// of the frame below when needed).
class call_frame {
public:
    call_frame(const module& m, const std::string* name, const module* parent) noexcept;
    ~call_frame();
    call_frame(const call_frame&) = delete;
    call_frame& operator=(const call_frame&) = delete;

    // In a catch block: rethrows the exception being handled, as the same type with this frame's
    // path in front when it is one of katachi's and no inner frame has done so; else unchanged.
    [[noreturn]] void rethrow_with_path() const;

private:
    const module* module_;
    const std::string* name_;
    const module* parent_;
    call_frame* below_;
    const void* previous_owner_;
};
}  // namespace detail

template <class F>
decltype(auto) module::call_child(const std::string& name, const module& child, F&& f) const {
    detail::call_frame frame(child, &name, this);
    try {
        return std::forward<F>(f)();
    } catch (...) {
        frame.rethrow_with_path();
    }
}

}  // namespace katachi::eager::nn
