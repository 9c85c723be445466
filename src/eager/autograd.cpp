// The backward engine: dependency-ordered replay of the tape, gradient accumulation, tape release.
#include "katachi/eager/autograd.hpp"

#include <atomic>
#include <string>

#include "support.hpp"

namespace katachi::eager {

namespace {
thread_local bool grad_enabled = true;
thread_local const void* current_owner = nullptr;
std::atomic<std::ptrdiff_t> node_count{0};
}  // namespace

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
        basic_tensor<T> acc(leaf.grad);
        add_in_place(acc, g.contiguous());
    }

    static void run(const basic_tensor<T>& root, basic_tensor<T> grad, bool retain_graph) {
        no_grad guard;
        const std::shared_ptr<node<T>> root_fn = root.grad_fn();
        if (!root_fn) {
            if (!root.requires_grad())
                throw autograd_error(
                    "backward: the tensor does not require grad and has no grad_fn (nothing that made it "
                    "requires grad, or it was computed under no_grad)");
            accumulate_leaf(*root.impl(), std::move(grad));
            return;
        }
        static thread_local std::uint64_t epoch = 0;
        const std::uint64_t visit = ++epoch;

        // Discover the reachable nodes and count, for each, the edges that will bring it a gradient.
        std::vector<std::shared_ptr<node<T>>> nodes{root_fn};
        std::vector<node<T>*> stack{root_fn.get()};
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
                if (!e.fn) continue;
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
        std::vector<node<T>*> ready{root_fn.get()};
        std::vector<basic_tensor<T>> slots;
        while (!ready.empty()) {
            node<T>* n = ready.back();
            ready.pop_back();
            basic_tensor<T> g = std::move(n->grad_);
            n->grad_ = {};
            slots.assign(n->inputs_.size(), basic_tensor<T>());
            if (g.defined()) n->backward(g.contiguous(), slots);
            for (std::size_t i = 0; i < n->inputs_.size(); ++i) {
                const edge<T>& e = n->inputs_[i];
                if (e.leaf) {
                    if (slots[i].defined()) accumulate_leaf(*e.leaf, std::move(slots[i]));
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

}  // namespace katachi::eager
