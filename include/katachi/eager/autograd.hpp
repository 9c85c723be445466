// katachi/eager/autograd.hpp: the tape that operations record and backward() replays.
//
// Every differentiable operation whose inputs require grad (while grad mode is on) makes a node:
// it keeps what its backward needs (saved tensors, options) and one edge per input, to the node
// that made that input or, for a leaf, to the leaf itself, whose grad the engine accumulates.
// The result tensor owns its node (grad_fn), nodes own their inputs' nodes, so the tape lives as
// long as the last tensor that can reach it.
//
// backward() walks the nodes reachable from the root in dependency order, summing the gradients
// of a tensor used several times before its node runs. Afterwards, unless retain_graph is set, each
// visited node drops its saved tensors and its edges (so the memory of the step is returned at
// once) and is marked released; reaching a released node again throws autograd_error, which says
// to pass retain_graph.
//
// Hooks: leaf.register_post_accumulate_grad_hook(fn) calls fn(leaf) in each backward once the
// leaf's gradient is final for that backward (the discovery pass counts the edges into each hooked
// leaf; the last one to be accumulated fires its hooks), and queue_callback(fn), called while a
// backward runs, has fn run when that backward ends. A backward reaching no hooked leaf pays one
// relaxed atomic load for them (distributed::distributed_data_parallel is built on both).
//
// A node keeps a tensor for its backward through save(t), which returns t.detach() and remembers
// the version of its storage; before any node runs, backward checks every reachable node's saved
// tensors and refuses (autograd_error, PyTorch's sentence) one that was changed in place since.
//
// Writing an operation: compute the result with the kernels, then
//     if (auto* n = record<my_node<T>>(y, {&x, &w})) n->saved = n->save(x);
// where my_node<T> derives from node<T> and implements backward() (and release_saved()).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "katachi/eager/tensor.hpp"

namespace katachi::eager {

// Whether operations record the tape (per thread; on by default).
struct grad_mode {
    static bool enabled() noexcept;
    static void set_enabled(bool on) noexcept;
};

// Inside a no_grad scope nothing is recorded: results do not require grad and have no grad_fn.
class no_grad {
public:
    no_grad() noexcept : previous_(grad_mode::enabled()) { grad_mode::set_enabled(false); }
    ~no_grad() { grad_mode::set_enabled(previous_); }
    no_grad(const no_grad&) = delete;
    no_grad& operator=(const no_grad&) = delete;

private:
    bool previous_;
};

// Queues fn to run on this thread when the backward running on it ends: after every node has run
// and the tape has been freed (unless retained), in the order queued; a callback may queue more.
// Only while a backward runs (from a node's backward or a hook); elsewhere it throws
// autograd_error. A backward that throws drops its queued callbacks without running them.
void queue_callback(std::function<void()> fn);

// The hooks of one leaf (tensor_impl::hooks) and the engine's count of the edges into it that are
// still to be processed in the running backward.
template <class T>
struct leaf_hooks {
    leaf_hooks() noexcept;
    ~leaf_hooks();
    leaf_hooks(const leaf_hooks&) = delete;
    leaf_hooks& operator=(const leaf_hooks&) = delete;

    std::vector<std::pair<std::uint64_t, std::function<void(const basic_tensor<T>&)>>> hooks;
    std::uint64_t next_id = 0;
    // The engine's bookkeeping during one backward.
    std::uint64_t visit = 0;
    std::size_t pending = 0;
    bool accumulated = false;
};

// The number of autograd nodes alive in the process (all scalar types): a training step that
// frees its tape returns it to the same value.
std::size_t live_nodes() noexcept;

template <class T>
struct edge {
    std::shared_ptr<node<T>> fn;           // the node that made a non-leaf input
    std::shared_ptr<tensor_impl<T>> leaf;  // or the leaf whose grad accumulates
    bool needed() const noexcept { return fn || leaf; }
};

namespace detail {
template <class T>
struct engine;
void count_node(int change) noexcept;
// The module whose call is running on this thread (nn::module::operator() and the containers set
// it; null outside any); a node made now remembers it as its owner.
const void*& op_owner() noexcept;
}  // namespace detail

template <class T>
class node {
public:
    explicit node(const char* name) noexcept : name_(name), owner_(detail::op_owner()) {
        detail::count_node(+1);
    }
    virtual ~node() { detail::count_node(-1); }
    node(const node&) = delete;
    node& operator=(const node&) = delete;

    const char* name() const noexcept { return name_; }
    // The module (an nn::module*, only to compare) whose call made this node, or null: the
    // innermost module called through operator() or a container. The tape's DOT names ops by it.
    const void* owner() const noexcept { return owner_; }

    // Gradients of the inputs from the gradient of the output (contiguous, the output's shape).
    // grad_inputs has one slot per input; a slot left undefined contributes nothing. A node
    // computes only the gradients that needs_input_grad(i) asks for.
    virtual void backward(const basic_tensor<T>& grad_output, std::span<basic_tensor<T>> grad_inputs) = 0;

    bool needs_input_grad(std::size_t i) const noexcept { return i < inputs_.size() && inputs_[i].needed(); }

    // A handle to `t` for this node's backward (t.detach()), with its storage's version noted.
    basic_tensor<T> save(const basic_tensor<T>& t) {
        if (!t.defined() || !t.impl()->store) return t.detach();
        saved_version v{t.impl()->store, t.version(), t.shape()};
        if (saved_count_ < inline_saved)
            saved_inline_[saved_count_] = std::move(v);
        else
            saved_more_.push_back(std::move(v));
        ++saved_count_;
        return t.detach();
    }
    // Throws autograd_error when a tensor saved by this node was changed in place since.
    void check_saved_versions() const;
    // One edge per input (a vector in the eager face's record pool, memory.hpp).
    using edge_list = std::vector<edge<T>, detail::pool_allocator<edge<T>>>;
    const edge_list& inputs() const noexcept { return inputs_; }
    bool released() const noexcept { return released_; }

    // Connects the node to its inputs; used by record().
    void connect(std::initializer_list<const basic_tensor<T>*> inputs);
    void connect(std::span<const basic_tensor<T>> inputs);

protected:
    // Drops what backward would need (saved tensors); called when the tape is freed.
    virtual void release_saved() {}

    // For backward(): the elements of the gradient accumulated so far in input i when that input
    // is a leaf whose grad exists with this shape (contiguous), so that the backward may add its
    // gradient there itself, as the engine would, and say so with accumulated_in_place(i) instead
    // of filling grad_inputs[i]; null otherwise (then it fills grad_inputs[i] as usual).
    T* leaf_grad_in_place(std::size_t i, const sizes& shape) const noexcept {
        if (i >= 64 || i >= inputs_.size() || !inputs_[i].leaf) return nullptr;
        const tensor_impl<T>& leaf = *inputs_[i].leaf;
        const tensor_impl<T>* g = leaf.grad.get();
        if (!g || g->uninitialized || !g->store || !(leaf.shape == shape) || !(g->shape == shape)) return nullptr;
        if (!(g->strides == contiguous_strides(shape))) return nullptr;
        return g->store->data.get() + g->offset;
    }
    void accumulated_in_place(std::size_t i) noexcept {
        if (i < 64) in_place_ |= std::uint64_t{1} << i;
    }

private:
    friend struct detail::engine<T>;
    void add_input(const basic_tensor<T>& t);

    struct saved_version {
        std::shared_ptr<storage<T>> store;
        std::uint64_t version = 0;
        sizes shape;
    };
    static constexpr std::size_t inline_saved = 3;  // most nodes save at most three tensors
    void forget_saved() {
        for (auto& v : saved_inline_) v = {};
        saved_more_.clear();
        saved_count_ = 0;
    }

    const char* name_;
    const void* owner_;
    edge_list inputs_;
    std::array<saved_version, inline_saved> saved_inline_;
    std::vector<saved_version> saved_more_;
    std::size_t saved_count_ = 0;
    bool released_ = false;
    // The engine's bookkeeping during one backward.
    std::uint64_t visit_ = 0;
    std::size_t pending_ = 0;
    std::uint64_t in_place_ = 0;  // the inputs whose leaf grad the running backward added into
    basic_tensor<T> grad_;
};

template <class T>
void node<T>::check_saved_versions() const {
    for (std::size_t i = 0; i < saved_count_; ++i) {
        const saved_version& v = i < inline_saved ? saved_inline_[i] : saved_more_[i - inline_saved];
        if (v.store->version != v.version)
            throw autograd_error(
                std::string("one of the variables needed for gradient computation has been modified by an "
                            "inplace operation: [") +
                (std::is_same_v<T, float> ? "float" : "double") + " " + v.shape.str() + "], saved by '" + name_ +
                "', is at version " + std::to_string(v.store->version) + "; expected version " +
                std::to_string(v.version) +
                " instead. It was changed in place (copy_, fill_, zero_, an optimiser step) after the "
                "operation saved it for backward: change a clone() of it, or change it after backward()");
    }
}

template <class T>
void node<T>::add_input(const basic_tensor<T>& t) {
    edge<T>& e = inputs_.emplace_back();
    if (t.requires_grad()) {
        const tensor_impl<T>& impl = *t.impl();
        if (impl.grad_fn)
            e.fn = impl.grad_fn;
        else
            e.leaf = t.impl_ptr();
    }
}

template <class T>
void node<T>::connect(std::initializer_list<const basic_tensor<T>*> inputs) {
    inputs_.reserve(inputs.size());
    for (const basic_tensor<T>* t : inputs) add_input(t ? *t : basic_tensor<T>());
}

template <class T>
void node<T>::connect(std::span<const basic_tensor<T>> inputs) {
    inputs_.reserve(inputs.size());
    for (const basic_tensor<T>& t : inputs) add_input(t);
}

// True when an operation on these inputs must be recorded.
template <class T>
bool should_record(std::type_identity_t<std::initializer_list<const basic_tensor<T>*>> inputs) noexcept {
    if (!grad_mode::enabled()) return false;
    for (const basic_tensor<T>* t : inputs)
        if (t && t->requires_grad()) return true;
    return false;
}

// Records `out` as made by a new Node from `inputs` when should_record(inputs); returns the node
// (to save what its backward needs) or nullptr. A null input pointer stands for an absent one
// (a bias of none).
template <class Node, class T, class... Args>
Node* record(basic_tensor<T>& out, std::type_identity_t<std::initializer_list<const basic_tensor<T>*>> inputs,
             Args&&... args) {
    if (!should_record<T>(inputs)) return nullptr;
    auto n = std::allocate_shared<Node>(detail::pool_allocator<Node>{}, std::forward<Args>(args)...);
    n->connect(inputs);
    Node* raw = n.get();
    out.impl()->grad_fn = std::move(n);
    out.impl()->requires_grad = true;
    return raw;
}

// The same for a run-time number of inputs (concatenation).
template <class Node, class T, class... Args>
Node* record(basic_tensor<T>& out, std::type_identity_t<std::span<const basic_tensor<T>>> inputs,
             Args&&... args) {
    if (!grad_mode::enabled()) return nullptr;
    bool any = false;
    for (const auto& t : inputs) any = any || t.requires_grad();
    if (!any) return nullptr;
    auto n = std::allocate_shared<Node>(detail::pool_allocator<Node>{}, std::forward<Args>(args)...);
    n->connect(inputs);
    Node* raw = n.get();
    out.impl()->grad_fn = std::move(n);
    out.impl()->requires_grad = true;
    return raw;
}

}  // namespace katachi::eager
