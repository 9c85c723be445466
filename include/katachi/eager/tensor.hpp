// katachi/eager/tensor.hpp: the eager face's tensor.
//
// A basic_tensor<T> is a handle to shared state: copying the handle aliases the same tensor (as
// torch::Tensor does). The state holds a storage (shared between views), an offset, the shape and
// strides, and the autograd record: requires_grad, the accumulated grad and the node that made it.
// `tensor` is float32, the default; `tensor64` is float64, for gradient checks.
//
// Views (view, transpose, permute, flatten, narrow, select, slice, detach) share storage;
// `contiguous()` copies only when the layout is not row-major; `reshape` is a view when it can be
// and a copy otherwise.
// Operations record the autograd tape as they run (autograd.hpp); in-place methods (fill_, zero_,
// copy_) are not recorded, and on a tensor that requires grad they are allowed only under no_grad.
// They bump the storage's version; backward refuses a tensor saved for it whose version has moved
// since (autograd_error with PyTorch's sentence, naming the operation that saved it).
//
// A parameter of a lazy module starts *uninitialized*: it has no storage and no shape until the
// module materialises it. Reading its shape or data throws uninitialized_parameter_error naming
// the module and the parameter; value_span() and grad_span() return empty spans instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "katachi/eager/memory.hpp"
#include "katachi/eager/sizes.hpp"
#include "katachi/kernels/common.hpp"  // katachi::shape_mismatch

namespace katachi::eager {

template <class T>
class node;
template <class T>
struct leaf_hooks;  // autograd.hpp

// What register_post_accumulate_grad_hook returns: remove() takes the hook off its tensor (doing
// nothing when it is gone already, or the tensor is). Dropping the handle keeps the hook.
class hook_handle {
public:
    hook_handle() = default;
    explicit hook_handle(std::function<void()> remover) : remover_(std::move(remover)) {}
    void remove() {
        if (remover_) std::exchange(remover_, nullptr)();
    }

private:
    std::function<void()> remover_;
};

// Reading the shape or data of a parameter that a lazy module has not yet materialised.
class uninitialized_parameter_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

// Misuse of the autograd tape (backward through freed nodes, backward without a grad_fn, ...).
class autograd_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

template <class T>
struct storage {
    std::unique_ptr<T[], detail::block_deleter<T>> data;  // from the storage cache (memory.hpp)
    std::size_t size = 0;
    // Counts the in-place writes to this storage (through any view), as PyTorch's version counter
    // does: a tensor saved for backward remembers it, and backward refuses one that changed.
    std::uint64_t version = 0;
};

template <class T>
struct tensor_impl {
    std::shared_ptr<storage<T>> store;  // null while uninitialized
    std::size_t offset = 0;
    sizes shape, strides;
    bool requires_grad = false;
    bool uninitialized = false;
    std::shared_ptr<node<T>> grad_fn;   // null for leaves
    std::shared_ptr<tensor_impl> grad;  // null until a backward reaches this leaf
    std::shared_ptr<leaf_hooks<T>> hooks;  // null until a hook is registered on this leaf
    std::string label;                  // "lazy_linear.weight": names an uninitialized parameter
};

template <class T>
class basic_tensor {
public:
    using value_type = T;
    using impl_type = tensor_impl<T>;

    // An undefined tensor (no state); defined() is false.
    basic_tensor() = default;
    explicit basic_tensor(std::shared_ptr<impl_type> impl) : impl_(std::move(impl)) {}

    // ---- factories -------------------------------------------------------------------------
    // A shape whose element count or byte size overflows (more than 2^63 bytes) throws
    // std::length_error naming the factory and the shape.
    static basic_tensor empty(const sizes& shape);  // uninitialised values
    static basic_tensor zeros(const sizes& shape);
    static basic_tensor ones(const sizes& shape);
    static basic_tensor full(const sizes& shape, T value);
    static basic_tensor scalar(T value);  // rank 0
    // Row-major values; values.size() must equal the product of the shape.
    static basic_tensor from(std::vector<T> values, const sizes& shape);
    static basic_tensor from(std::initializer_list<T> values) {
        return from(std::vector<T>(values), {values.size()});
    }
    // A parameter placeholder with no shape and no storage; `label` names it in errors.
    static basic_tensor uninitialized(std::string label);

    // ---- shape and storage -----------------------------------------------------------------
    bool defined() const noexcept { return impl_ != nullptr; }
    bool is_uninitialized() const noexcept { return impl_ && impl_->uninitialized; }
    const sizes& shape() const { return checked().shape; }
    const sizes& strides() const { return checked().strides; }
    std::size_t dim() const { return shape().size(); }
    std::size_t size(std::ptrdiff_t d) const;  // negative d counts from the end
    std::size_t numel() const { return shape().numel(); }
    bool is_contiguous() const { return contiguous_layout(checked()); }

    // The first element; the layout is given by strides(). Throws for uninitialized tensors.
    T* data() const { return checked().store->data.get() + impl_->offset; }
    // The elements of a contiguous tensor, or an empty span while uninitialized (the optimisers'
    // view of a parameter). Throws for a non-contiguous tensor.
    std::span<T> value_span() const;
    // The accumulated gradient's elements, or an empty span when there is none yet.
    std::span<T> grad_span() const;

    T item() const;                                        // the value of a one-element tensor
    T at(std::initializer_list<std::size_t> index) const;  // one element, by its index
    std::vector<T> to_vector() const;                      // all elements, row-major

    // ---- autograd --------------------------------------------------------------------------
    bool requires_grad() const { return impl_ && impl_->requires_grad; }
    // Marks a leaf as requiring grad (or not); throws on a non-leaf (detach() it first).
    basic_tensor& requires_grad_(bool on = true);
    bool is_leaf() const { return !impl_ || !impl_->grad_fn; }
    // The gradient accumulated by backward; undefined before the first backward reaches it.
    basic_tensor grad() const { return basic_tensor(impl_ ? impl_->grad : nullptr); }
    // The name of the operation that made this tensor ("mul", "conv2d", ...); nullptr for leaves.
    const char* grad_fn_name() const;
    std::shared_ptr<node<T>> grad_fn() const { return impl_ ? impl_->grad_fn : nullptr; }
    // Sets the accumulated gradient to zero (set_to_none: forgets it instead).
    void zero_grad(bool set_to_none = false);
    // torch.Tensor.register_post_accumulate_grad_hook: `hook(leaf)` runs once in each backward
    // that brings this leaf a gradient, after the last of that backward's edges into the leaf has
    // been accumulated, so leaf.grad() is final for the backward; a leaf that no edge of the
    // backward brings a gradient is not called. Hooks run in their registration order, on the
    // thread running backward; one that throws ends the backward with its exception. Only for a
    // leaf that requires grad (autograd_error otherwise).
    hook_handle register_post_accumulate_grad_hook(std::function<void(const basic_tensor&)> hook) const;

    // backward() on a one-element tensor; backward(gradient) on any tensor computes the
    // vector-Jacobian product with `gradient` (same shape). Gradients accumulate into the leaves'
    // grad. The tape is freed afterwards unless retain_graph is true.
    void backward(bool retain_graph = false) const;
    void backward(const basic_tensor& gradient, bool retain_graph = false) const;

    // The same storage, cut from the tape: no grad_fn, requires_grad false.
    basic_tensor detach() const;

    // ---- views and copies (differentiable) -------------------------------------------------
    // One size may be -1 (inferred). view needs a compatible (here: contiguous) layout.
    basic_tensor view(std::initializer_list<std::ptrdiff_t> shape) const;
    basic_tensor view(const std::vector<std::ptrdiff_t>& shape) const;
    basic_tensor view(const sizes& shape) const;
    basic_tensor reshape(std::initializer_list<std::ptrdiff_t> shape) const;
    basic_tensor reshape(const std::vector<std::ptrdiff_t>& shape) const;
    basic_tensor reshape(const sizes& shape) const;
    basic_tensor flatten(std::ptrdiff_t start_dim = 0, std::ptrdiff_t end_dim = -1) const;
    basic_tensor transpose(std::ptrdiff_t dim0, std::ptrdiff_t dim1) const;
    basic_tensor permute(std::initializer_list<std::ptrdiff_t> dims) const;
    basic_tensor permute(const std::vector<std::ptrdiff_t>& dims) const;
    // Parts of the tensor, as views on its storage (PyTorch's narrow, select and slicing); negative
    // dims and indices count from the end; out of range throws std::out_of_range with PyTorch's
    // sentence. The gradient lands in the part taken (src/eager/ops/indexing.cpp).
    // Elements start .. start + length - 1 of dimension dim.
    basic_tensor narrow(std::ptrdiff_t dim, std::ptrdiff_t start, std::ptrdiff_t length) const;
    // Element `index` of dimension dim, which the result no longer has (x[index] for dim 0).
    basic_tensor select(std::ptrdiff_t dim, std::ptrdiff_t index) const;
    // x[..., start:end:step, ...] along dim: start and end as Python's (clamped to the size,
    // std::nullopt for the ends), step > 0.
    basic_tensor slice(std::ptrdiff_t dim, std::optional<std::ptrdiff_t> start = std::nullopt,
                       std::optional<std::ptrdiff_t> end = std::nullopt, std::ptrdiff_t step = 1) const;
    basic_tensor contiguous() const;  // *this when already contiguous
    basic_tensor clone() const;       // always a copy

    // ---- in place, not recorded --------------------------------------------------------------
    // Each bumps the version of the tensor's storage (shared by its views).
    basic_tensor& fill_(T value);
    basic_tensor& zero_() { return fill_(T(0)); }
    basic_tensor& copy_(const basic_tensor& source);  // same shape
    // How many times the storage was written in place (torch.Tensor._version); 0 for a tensor
    // without storage. Code that writes through data() or value_span() (an optimiser's step, an
    // init function) calls bump_version() so that backward can tell.
    std::uint64_t version() const noexcept { return impl_ && impl_->store ? impl_->store->version : 0; }
    void bump_version() const noexcept {
        if (impl_ && impl_->store) ++impl_->store->version;
    }

    // ---- identity ------------------------------------------------------------------------------
    impl_type* impl() const noexcept { return impl_.get(); }
    const std::shared_ptr<impl_type>& impl_ptr() const noexcept { return impl_; }
    bool is_same(const basic_tensor& other) const noexcept { return impl_ == other.impl_; }

private:
    // Whether the layout is row-major, ignoring the strides of dimensions of size 1.
    static bool contiguous_layout(const impl_type& i) noexcept {
        std::size_t expected = 1;
        for (std::size_t d = i.shape.size(); d-- > 0;) {
            if (i.shape[d] != 1 && i.strides[d] != expected) return false;
            expected *= i.shape[d];
        }
        return true;
    }
    // empty() for `op`: checks that the shape is addressable (sizes::addressable), naming op.
    static basic_tensor allocate(const char* op, const sizes& shape);
    static basic_tensor filled(const char* op, const sizes& shape, T value);
    // The state, after checking that there is one and that it is initialized (inline: every
    // shape() and data() comes here; the errors are thrown out of line).
    impl_type& checked() const {
        if (!impl_ || impl_->uninitialized) [[unlikely]]
            throw_unusable();
        return *impl_;
    }
    [[noreturn]] void throw_unusable() const;
    void fill_raw(T value);  // fill_ without the in-place check (zero_grad on a grad)

    std::shared_ptr<impl_type> impl_;
};

using tensor = basic_tensor<float>;
using tensor64 = basic_tensor<double>;

// Factories with the scalar as a template argument: eager::zeros({2, 3}), eager::ones<double>({4}).
template <class T = float>
basic_tensor<T> empty(const sizes& shape) {
    return basic_tensor<T>::empty(shape);
}
template <class T = float>
basic_tensor<T> zeros(const sizes& shape) {
    return basic_tensor<T>::zeros(shape);
}
template <class T = float>
basic_tensor<T> ones(const sizes& shape) {
    return basic_tensor<T>::ones(shape);
}
template <class T = float>
basic_tensor<T> full(const sizes& shape, T value) {
    return basic_tensor<T>::full(shape, value);
}
template <class T = float>
basic_tensor<T> from_values(std::vector<T> values, const sizes& shape) {
    return basic_tensor<T>::from(std::move(values), shape);
}
template <class T = float>
basic_tensor<T> from_values(std::initializer_list<T> values) {
    return basic_tensor<T>::from(values);
}

// Prints as PyTorch does (torch.Tensor.__repr__ with its default print options): nested
// brackets, one row per line, a common width, "1." for integral values, scientific notation when
// the magnitudes demand it, the first and last three entries of each dimension with "..." for a
// tensor of more than 1000 elements, then ", requires_grad=True" for a leaf that requires grad or
// ", grad_fn=<MulBackward>" for a result on the tape; a float64 tensor adds ", dtype=float64".
//     tensor([[1., 2.],
//             [3., 4.]], requires_grad=True)
template <class T>
std::ostream& operator<<(std::ostream& os, const basic_tensor<T>& t);

extern template class basic_tensor<float>;
extern template class basic_tensor<double>;
extern template std::ostream& operator<<(std::ostream&, const basic_tensor<float>&);
extern template std::ostream& operator<<(std::ostream&, const basic_tensor<double>&);

}  // namespace katachi::eager
