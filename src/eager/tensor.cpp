// The eager tensor: storage, factories, element access, autograd flags, in-place writes.
// Its views and copies, and their derivatives, are in tensor_views.cpp; printing in print.cpp.
#include "katachi/eager/tensor.hpp"

#include <algorithm>
#include <ostream>
#include <type_traits>

#include "katachi/eager/autograd.hpp"
#include "support.hpp"

namespace katachi::eager {

namespace {

using detail::alias;
using detail::wrap_dim;

template <class T>
void require_writable(const basic_tensor<T>& t, const char* op) {
    if (t.requires_grad() && grad_mode::enabled())
        throw autograd_error(std::string(op) +
                             ": a tensor that requires grad cannot be changed in place while grad mode is on "
                             "(the tape would not see it); do it inside a no_grad scope");
}

}  // namespace

// ---- factories ---------------------------------------------------------------------------------

template <class T>
basic_tensor<T> basic_tensor<T>::empty(const sizes& shape) {
    return allocate("empty", shape);
}

template <class T>
basic_tensor<T> basic_tensor<T>::allocate(const char* op, const sizes& shape) {
    require_addressable(op, shape, sizeof(T));
    auto impl = std::allocate_shared<impl_type>(detail::pool_allocator<impl_type>{});
    const std::size_t n = shape.numel();
    impl->store = std::allocate_shared<storage<T>>(detail::pool_allocator<storage<T>>{});
    static_assert(std::is_trivially_default_constructible_v<T> && std::is_trivially_destructible_v<T>,
                  "tensor storage is raw memory from the storage cache");
    std::size_t capacity = 0;
    void* block = detail::acquire_block(n * sizeof(T), capacity);
    impl->store->data = std::unique_ptr<T[], detail::block_deleter<T>>(static_cast<T*>(block), {capacity});
    impl->store->size = n;
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    return basic_tensor(std::move(impl));
}

template <class T>
basic_tensor<T> basic_tensor<T>::filled(const char* op, const sizes& shape, T value) {
    basic_tensor t = allocate(op, shape);
    std::fill_n(t.data(), t.numel(), value);
    return t;
}

template <class T>
basic_tensor<T> basic_tensor<T>::full(const sizes& shape, T value) {
    return filled("full", shape, value);
}

template <class T>
basic_tensor<T> basic_tensor<T>::zeros(const sizes& shape) {
    return filled("zeros", shape, T(0));
}

template <class T>
basic_tensor<T> basic_tensor<T>::ones(const sizes& shape) {
    return filled("ones", shape, T(1));
}

template <class T>
basic_tensor<T> basic_tensor<T>::scalar(T value) {
    return filled("scalar", sizes{}, value);
}

template <class T>
basic_tensor<T> basic_tensor<T>::from(std::vector<T> values, const sizes& shape) {
    require_addressable("tensor", shape, sizeof(T));
    if (values.size() != shape.numel())
        throw shape_mismatch("tensor: " + std::to_string(values.size()) + " values do not fill shape " +
                             shape.str() + " (" + std::to_string(shape.numel()) + " elements)");
    basic_tensor t = allocate("tensor", shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
}

template <class T>
basic_tensor<T> basic_tensor<T>::uninitialized(std::string label) {
    auto impl = std::make_shared<impl_type>();
    impl->uninitialized = true;
    impl->label = std::move(label);
    return basic_tensor(std::move(impl));
}

// ---- shape, storage, elements ------------------------------------------------------------------

template <class T>
void basic_tensor<T>::throw_unusable() const {
    if (!impl_) throw std::logic_error("katachi::eager: the tensor is undefined (default-constructed)");
    throw uninitialized_parameter_error(
            impl_->label +
            " is an uninitialized parameter: its shape is unknown until the module is "
            "materialised (by a forward pass, materialize(input_shape) or load_state_dict)");
}

template <class T>
std::size_t basic_tensor<T>::size(std::ptrdiff_t d) const {
    return shape()[wrap_dim("size", d, dim())];
}


template <class T>
std::span<T> basic_tensor<T>::value_span() const {
    if (impl_ && impl_->uninitialized) return {};
    if (!is_contiguous())
        throw shape_mismatch("value_span: the tensor of shape " + shape().str() + " is not contiguous");
    return {data(), numel()};
}

template <class T>
std::span<T> basic_tensor<T>::grad_span() const {
    if (!impl_ || !impl_->grad) return {};
    impl_type& g = *impl_->grad;  // read in place: no handle (and no reference count) for it
    if (g.uninitialized) return {};
    if (!contiguous_layout(g))
        throw shape_mismatch("value_span: the tensor of shape " + g.shape.str() + " is not contiguous");
    return {g.store->data.get() + g.offset, g.shape.numel()};
}

template <class T>
T basic_tensor<T>::item() const {
    if (numel() != 1)
        throw shape_mismatch("item: the tensor has shape " + shape().str() + " (" + std::to_string(numel()) +
                             " elements); item() needs exactly one element");
    return *data();
}

template <class T>
T basic_tensor<T>::at(std::initializer_list<std::size_t> index) const {
    const impl_type& i = checked();
    if (index.size() != i.shape.size())
        throw std::out_of_range("at: " + std::to_string(index.size()) + " indices for a tensor of shape " +
                                i.shape.str());
    std::size_t offset = 0, d = 0;
    for (std::size_t k : index) {
        if (k >= i.shape[d])
            throw std::out_of_range("at: index " + std::to_string(k) + " is out of range for dimension " +
                                    std::to_string(d) + " of shape " + i.shape.str());
        offset += k * i.strides[d++];
    }
    return data()[offset];
}

template <class T>
std::vector<T> basic_tensor<T>::to_vector() const {
    std::vector<T> out;
    out.reserve(numel());
    const T* src = data();
    detail::for_each_offset(shape(), strides(), [&](std::size_t at) { out.push_back(src[at]); });
    return out;
}

// ---- autograd ----------------------------------------------------------------------------------

template <class T>
basic_tensor<T>& basic_tensor<T>::requires_grad_(bool on) {
    if (!impl_) throw std::logic_error("requires_grad_: the tensor is undefined");
    if (!is_leaf()) {
        if (!on)
            throw autograd_error(
                std::string("requires_grad_: this tensor was made by '") + grad_fn_name() +
                "' and is not a leaf; use detach() to get a tensor that does not require grad");
        return *this;
    }
    impl_->requires_grad = on;
    return *this;
}

template <class T>
const char* basic_tensor<T>::grad_fn_name() const {
    return impl_ && impl_->grad_fn ? impl_->grad_fn->name() : nullptr;
}

template <class T>
void basic_tensor<T>::zero_grad(bool set_to_none) {
    if (!impl_ || !impl_->grad) return;
    if (set_to_none)
        impl_->grad.reset();
    else
        basic_tensor(impl_->grad).fill_raw(T(0));
}

template <class T>
basic_tensor<T> basic_tensor<T>::detach() const {
    const impl_type& i = checked();
    return alias(*this, i.shape, i.strides);
}

// ---- in place ----------------------------------------------------------------------------------

template <class T>
void basic_tensor<T>::fill_raw(T value) {
    bump_version();
    T* p = data();
    if (is_contiguous())
        std::fill_n(p, numel(), value);
    else
        detail::for_each_offset(shape(), strides(), [&](std::size_t at) { p[at] = value; });
}

template <class T>
basic_tensor<T>& basic_tensor<T>::fill_(T value) {
    require_writable(*this, "fill_");
    fill_raw(value);
    return *this;
}

template <class T>
basic_tensor<T>& basic_tensor<T>::copy_(const basic_tensor& source) {
    require_writable(*this, "copy_");
    detail::require_same_shape("copy_", shape(), source.shape());
    bump_version();
    if (is_contiguous() && source.is_contiguous() && impl_->store != source.impl()->store) {
        std::copy_n(source.data(), numel(), data());
        return *this;
    }
    const std::vector<T> values = source.to_vector();  // the two may share storage
    T* p = data();
    std::size_t k = 0;
    detail::for_each_offset(shape(), strides(), [&](std::size_t at) { p[at] = values[k++]; });
    return *this;
}

template class basic_tensor<float>;
template class basic_tensor<double>;

}  // namespace katachi::eager
