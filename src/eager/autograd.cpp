// The backward engine: dependency-ordered replay of the tape, gradient accumulation, tape release.
#include "katachi/eager/autograd.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"

namespace katachi::eager {

namespace {
thread_local bool grad_enabled = true;
thread_local const void* current_owner = nullptr;
std::atomic<std::ptrdiff_t> node_count{0};
// Leaves with a leaf_hooks record (any scalar type): while there are none, backward skips the
// leaf bookkeeping entirely.
std::atomic<std::ptrdiff_t> hooked_leaf_count{0};
// Numbers the backward passes of the whole process, so that a node or a leaf stamped by one
// backward is never mistaken as visited by another (on this thread or any other).
std::atomic<std::uint64_t> backward_epoch{0};
// The callbacks queued by the backward running on this thread (null outside any).
thread_local std::vector<std::function<void()>>* final_callbacks = nullptr;

// Makes `queue` the running backward's callback queue for its lifetime, restoring the outer one
// (a backward started from a hook) afterwards.
class callback_scope {
public:
    explicit callback_scope(std::vector<std::function<void()>>& queue) noexcept : previous_(final_callbacks) {
        final_callbacks = &queue;
    }
    ~callback_scope() { final_callbacks = previous_; }
    callback_scope(const callback_scope&) = delete;
    callback_scope& operator=(const callback_scope&) = delete;

private:
    std::vector<std::function<void()>>* previous_;
};

// Runs the queued callbacks in order, those they queue included.
void run_callbacks(std::vector<std::function<void()>>& queue) {
    for (std::size_t i = 0; i < queue.size(); ++i) {
        std::function<void()> fn = std::move(queue[i]);
        fn();
    }
}
}  // namespace

void queue_callback(std::function<void()> fn) {
    if (!final_callbacks)
        throw autograd_error(
            "queue_callback: no backward is running on this thread (queue a callback from a "
            "node's backward or a gradient hook)");
    if (!fn) throw std::invalid_argument("queue_callback: the callback is empty");
    final_callbacks->push_back(std::move(fn));
}

template <class T>
leaf_hooks<T>::leaf_hooks() noexcept {
    hooked_leaf_count.fetch_add(1, std::memory_order_relaxed);
}
template <class T>
leaf_hooks<T>::~leaf_hooks() {
    hooked_leaf_count.fetch_sub(1, std::memory_order_relaxed);
}
template struct leaf_hooks<float>;
template struct leaf_hooks<double>;

template <class T>
hook_handle basic_tensor<T>::register_post_accumulate_grad_hook(
    std::function<void(const basic_tensor&)> hook) const {
    if (!impl_) throw autograd_error("register_post_accumulate_grad_hook: the tensor is undefined");
    if (!is_leaf())
        throw autograd_error(
            std::string("register_post_accumulate_grad_hook: post accumulate grad hooks cannot be "
                        "registered on non-leaf tensors (this one was made by '") +
            grad_fn_name() + "')");
    if (!impl_->requires_grad)
        throw autograd_error(
            "register_post_accumulate_grad_hook: cannot register a hook on a tensor that doesn't require "
            "gradient (call requires_grad_() first)");
    if (!hook) throw std::invalid_argument("register_post_accumulate_grad_hook: the hook is empty");
    if (!impl_->hooks) impl_->hooks = std::make_shared<leaf_hooks<T>>();
    leaf_hooks<T>& h = *impl_->hooks;
    const std::uint64_t id = h.next_id++;
    h.hooks.emplace_back(id, std::move(hook));
    return hook_handle([weak = std::weak_ptr<leaf_hooks<T>>(impl_->hooks), id] {
        if (const auto alive = weak.lock())
            std::erase_if(alive->hooks, [id](const auto& entry) { return entry.first == id; });
    });
}

bool grad_mode::enabled() noexcept {
    return grad_enabled;
}
void grad_mode::set_enabled(bool on) noexcept {
    grad_enabled = on;
}

std::size_t live_nodes() noexcept {
    return static_cast<std::size_t>(node_count.load(std::memory_order_relaxed));
}

namespace detail {

void count_node(int change) noexcept {
    node_count.fetch_add(change, std::memory_order_relaxed);
}

const void*& op_owner() noexcept {
    return current_owner;
}

template <class T>
struct engine {
    // What one backward works through. Cleared when the backward ends, however it ends (the node
    // list holds the tape), and kept with its capacity for the thread's next backward.
    struct work_lists {
        std::vector<std::shared_ptr<node<T>>> nodes;
        std::vector<node<T>*> stack, ready;
        std::vector<basic_tensor<T>> slots;

        void clear() noexcept {
            nodes.clear();
            stack.clear();
            ready.clear();
            slots.clear();
        }

        class lease {
        public:
            lease() : lists_(spare() ? spare().release() : new work_lists) {}
            ~lease() {
                lists_->clear();
                if (!spare()) spare().reset(lists_);
                else delete lists_;
            }
            lease(const lease&) = delete;
            lease& operator=(const lease&) = delete;
            work_lists& lists() noexcept { return *lists_; }

        private:
            static std::unique_ptr<work_lists>& spare() noexcept {
                thread_local std::unique_ptr<work_lists> lists;
                return lists;
            }
            work_lists* lists_;
        };
    };

    // True when nothing else can see g's elements, so they may be added into in place.
    static bool exclusive(const basic_tensor<T>& g) {
        const auto& impl = g.impl_ptr();
        return impl.use_count() == 1 && impl->store.use_count() == 1 && impl->offset == 0 &&
               impl->store->size == g.numel() && g.is_contiguous();
    }

    static void add_in_place(basic_tensor<T>& acc, const basic_tensor<T>& g) {
        T* a = acc.data();
        const T* b = g.data();
        const std::size_t n = acc.numel();
        for (std::size_t i = 0; i < n; ++i) a[i] += b[i];
    }

    // acc += g, where acc is a gradient being summed (undefined means zero so far).
    static void add_into(basic_tensor<T>& acc, basic_tensor<T>&& g) {
        if (!acc.defined()) {
            acc = std::move(g);
            return;
        }
        require_same_shape("backward", acc.shape(), g.shape());
        basic_tensor<T> gc = g.contiguous();
        if (!exclusive(acc)) acc = acc.clone();
        add_in_place(acc, gc);
    }

    static void accumulate_leaf(tensor_impl<T>& leaf, basic_tensor<T>&& g) {
        if (!(leaf.shape == g.shape()))
            throw autograd_error("backward: a gradient of shape " + g.shape().str() +
                                 " reached a leaf of shape " + leaf.shape.str());
        if (!leaf.grad) {
            basic_tensor<T> own = exclusive(g) ? std::move(g) : g.clone();
            leaf.grad = own.impl_ptr();
            return;
        }
        if (!g.is_contiguous()) g = g.contiguous();
        T* a = leaf.grad->store->data.get() + leaf.grad->offset;  // contiguous: made here
        const T* b = g.data();
        const std::size_t n = g.numel();
        for (std::size_t i = 0; i < n; ++i) a[i] += b[i];
    }

    // Calls a leaf's hooks with the leaf (a copy of the list: a hook may remove hooks).
    static void fire_hooks(const std::shared_ptr<tensor_impl<T>>& leaf) {
        const auto hooks = leaf->hooks->hooks;
        const basic_tensor<T> t(leaf);
        for (const auto& entry : hooks) entry.second(t);
    }

    // Discovery found one more edge into a leaf: counted when the leaf has hooks.
    static void count_leaf_edge(const std::shared_ptr<tensor_impl<T>>& leaf, std::uint64_t visit) {
        leaf_hooks<T>* h = leaf->hooks.get();
        if (!h || h->hooks.empty()) return;
        if (h->visit != visit) {
            h->visit = visit;
            h->pending = 0;
            h->accumulated = false;
        }
        ++h->pending;
    }

    // An edge into a leaf was processed (`delivered`: it brought a gradient); the last one fires.
    static void leaf_edge_done(const std::shared_ptr<tensor_impl<T>>& leaf, bool delivered,
                               std::uint64_t visit) {
        leaf_hooks<T>* h = leaf->hooks.get();
        if (!h || h->visit != visit || h->pending == 0) return;  // hooked after discovery: not this time
        h->accumulated = h->accumulated || delivered;
        if (--h->pending == 0 && h->accumulated) fire_hooks(leaf);
    }

    static void run(const basic_tensor<T>& root, basic_tensor<T> grad, bool retain_graph) {
        no_grad guard;
        std::vector<std::function<void()>> callbacks;
        callback_scope scope(callbacks);
        const std::uint64_t visit = backward_epoch.fetch_add(1, std::memory_order_relaxed) + 1;
        // Read once: a backward that starts with no hooked leaf in the process never looks for one.
        const bool any_hooks = hooked_leaf_count.load(std::memory_order_relaxed) > 0;
        const std::shared_ptr<node<T>> root_fn = root.grad_fn();
        if (!root_fn) {
            if (!root.requires_grad())
                throw autograd_error(
                    "backward: the tensor does not require grad and has no grad_fn (nothing that made it "
                    "requires grad, or it was computed under no_grad)");
            accumulate_leaf(*root.impl(), std::move(grad));
            if (any_hooks && root.impl()->hooks) fire_hooks(root.impl_ptr());
            run_callbacks(callbacks);
            return;
        }

        // Discover the reachable nodes and count, for each, the edges that will bring it a gradient.
        // The lists are the thread's, reused from one backward to the next (a backward started
        // from inside this one, by a hook, gets lists of its own).
        typename work_lists::lease lease;
        work_lists& w = lease.lists();
        auto& nodes = w.nodes;
        auto& stack = w.stack;
        nodes.push_back(root_fn);
        stack.push_back(root_fn.get());
        root_fn->visit_ = visit;
        root_fn->pending_ = 0;
        root_fn->grad_ = {};
        while (!stack.empty()) {
            node<T>* n = stack.back();
            stack.pop_back();
            if (n->released_)
                throw autograd_error(
                    std::string("backward: trying to backward through the graph a second time: "
                                "the node of '") +
                    n->name() +
                    "' was freed by an earlier backward, which frees the tape's saved tensors. "
                    "Pass retain_graph = true to the first backward to keep them.");
            n->check_saved_versions();
            for (const edge<T>& e : n->inputs_) {
                if (!e.fn) {
                    if (any_hooks && e.leaf) count_leaf_edge(e.leaf, visit);
                    continue;
                }
                if (e.fn->visit_ != visit) {
                    e.fn->visit_ = visit;
                    e.fn->pending_ = 0;
                    e.fn->grad_ = {};
                    nodes.push_back(e.fn);
                    stack.push_back(e.fn.get());
                }
                ++e.fn->pending_;
            }
        }

        // Run each node once all its gradient has arrived.
        root_fn->grad_ = std::move(grad);
        auto& ready = w.ready;
        auto& slots = w.slots;
        ready.push_back(root_fn.get());
        while (!ready.empty()) {
            node<T>* n = ready.back();
            ready.pop_back();
            basic_tensor<T> g = std::move(n->grad_);
            n->grad_ = {};
            slots.assign(n->inputs_.size(), basic_tensor<T>());
            n->in_place_ = 0;
            if (g.defined()) {
                if (!g.is_contiguous()) g = g.contiguous();
                n->backward(g, slots);
            }
            for (std::size_t i = 0; i < n->inputs_.size(); ++i) {
                const edge<T>& e = n->inputs_[i];
                if (e.leaf) {
                    const bool in_place = i < 64 && (n->in_place_ >> i & 1);
                    const bool delivered = in_place || slots[i].defined();
                    if (slots[i].defined()) accumulate_leaf(*e.leaf, std::move(slots[i]));
                    if (any_hooks) leaf_edge_done(e.leaf, delivered, visit);
                } else if (e.fn) {
                    if (slots[i].defined()) add_into(e.fn->grad_, std::move(slots[i]));
                    if (--e.fn->pending_ == 0) ready.push_back(e.fn.get());
                }
            }
        }

        if (!retain_graph)
            for (const auto& n : nodes) {
                n->release_saved();
                n->forget_saved();
                n->inputs_.clear();
                n->released_ = true;
            }
        run_callbacks(callbacks);
    }
};

}  // namespace detail

template <class T>
void basic_tensor<T>::backward(bool retain_graph) const {
    if (numel() != 1)
        throw autograd_error(
            "backward: a gradient can be created implicitly only for a one-element tensor; this "
            "one has shape " +
            shape().str() + ", so pass backward(gradient) with a gradient of that shape");
    detail::engine<T>::run(*this, basic_tensor<T>::ones(shape()), retain_graph);
}

template <class T>
void basic_tensor<T>::backward(const basic_tensor& gradient, bool retain_graph) const {
    detail::require_same_shape("backward", shape(), gradient.shape());
    detail::engine<T>::run(*this, gradient.detach(), retain_graph);
}

template void basic_tensor<float>::backward(bool) const;
template void basic_tensor<double>::backward(bool) const;
template void basic_tensor<float>::backward(const basic_tensor<float>&, bool) const;
template void basic_tensor<double>::backward(const basic_tensor<double>&, bool) const;
template hook_handle basic_tensor<float>::register_post_accumulate_grad_hook(
    std::function<void(const basic_tensor<float>&)>) const;
template hook_handle basic_tensor<double>::register_post_accumulate_grad_hook(
    std::function<void(const basic_tensor<double>&)>) const;

}  // namespace katachi::eager
