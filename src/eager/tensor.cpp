// The eager tensor: storage, views and their derivatives, element access, printing.
#include "katachi/eager/tensor.hpp"

#include <algorithm>
#include <numeric>
#include <ostream>
#include <type_traits>

#include "katachi/eager/autograd.hpp"
#include "support.hpp"

namespace katachi::eager {

namespace {

std::size_t wrap_dim(const char* op, std::ptrdiff_t dim, std::size_t rank) {
    const auto r = static_cast<std::ptrdiff_t>(std::max<std::size_t>(rank, 1));
    if (dim < -r || dim >= r)
        throw std::out_of_range(std::string(op) + ": dimension " + std::to_string(dim) +
                                " is out of range for a tensor of rank " + std::to_string(rank));
    return static_cast<std::size_t>(dim < 0 ? dim + r : dim);
}

template <class It>
std::string signed_text(It first, It last) {
    std::string s = "[";
    for (It it = first; it != last; ++it) s += (it != first ? ", " : "") + std::to_string(*it);
    return s + "]";
}

// The shape asked for, with one -1 inferred from the element count; a shape whose product does not
// fit (sizes::addressable with elements of `element_bytes`) throws before the counts are compared.
sizes infer_shape(const char* op, const std::ptrdiff_t* first, const std::ptrdiff_t* last, const sizes& from,
                  std::size_t element_bytes) {
    sizes out;
    std::size_t holes = 0, hole_at = 0;
    for (const std::ptrdiff_t* it = first; it != last; ++it) {
        if (*it == -1) {
            ++holes;
            hole_at = out.size();
            out.push_back(1);
        } else if (*it < 0) {
            throw shape_mismatch(std::string(op) + ": shape " + signed_text(first, last) +
                                 " has a negative size other than -1");
        } else {
            out.push_back(static_cast<std::size_t>(*it));
        }
    }
    require_addressable(op, out, element_bytes);
    const std::size_t known = out.numel();  // with 1 for the -1
    const std::size_t count = from.numel();
    const auto invalid = [&](const char* why) {
        return shape_mismatch(std::string(op) + ": shape " + signed_text(first, last) +
                              " is invalid for a tensor of shape " + from.str() + " (" +
                              std::to_string(count) + " elements): " + why);
    };
    if (holes > 1) throw invalid("only one size may be -1");
    if (holes == 1) {
        if (known == 0 || count % known != 0) throw invalid("no size for -1 gives that many elements");
        out[hole_at] = count / known;
    } else if (known != count) {
        throw invalid("the element counts differ");
    }
    return out;
}

std::vector<std::ptrdiff_t> as_signed(const sizes& s) {
    return {s.begin(), s.end()};
}

// ---- the derivatives of the views and copies -------------------------------------------------

// view, reshape, flatten: the gradient is reshaped back to the input's shape.
template <class T>
struct view_node final : node<T> {
    sizes input_shape;
    explicit view_node(const sizes& s) : node<T>("view"), input_shape(s) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = dy.reshape(input_shape);
    }
};

// transpose and permute: the gradient is permuted back by the inverse permutation.
template <class T>
struct permute_node final : node<T> {
    std::vector<std::ptrdiff_t> inverse;
    permute_node(const char* name, std::vector<std::ptrdiff_t> inv)
        : node<T>(name), inverse(std::move(inv)) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = dy.permute(inverse);
    }
};

// contiguous and clone: the identity.
template <class T>
struct copy_node final : node<T> {
    explicit copy_node(const char* name) : node<T>(name) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override { dx[0] = dy; }
};

template <class T>
basic_tensor<T> alias(const basic_tensor<T>& x, const sizes& shape, const sizes& strides) {
    auto impl = std::make_shared<tensor_impl<T>>();
    impl->store = x.impl()->store;
    impl->offset = x.impl()->offset;
    impl->shape = shape;
    impl->strides = strides;
    return basic_tensor<T>(std::move(impl));
}

template <class T>
basic_tensor<T> dense_copy(const basic_tensor<T>& x) {
    basic_tensor<T> out = basic_tensor<T>::empty(x.shape());
    T* dst = out.data();
    const T* src = x.data();
    if (x.is_contiguous())
        std::copy_n(src, x.numel(), dst);
    else
        detail::for_each_offset(x.shape(), x.strides(), [&](std::size_t at) { *dst++ = src[at]; });
    return out;
}

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
    auto impl = std::make_shared<impl_type>();
    const std::size_t n = shape.numel();
    impl->store = std::make_shared<storage<T>>();
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
tensor_impl<T>& basic_tensor<T>::checked() const {
    if (!impl_) throw std::logic_error("katachi::eager: the tensor is undefined (default-constructed)");
    if (impl_->uninitialized)
        throw uninitialized_parameter_error(
            impl_->label +
            " is an uninitialized parameter: its shape is unknown until the module is "
            "materialised (by a forward pass, materialize(input_shape) or load_state_dict)");
    return *impl_;
}

template <class T>
std::size_t basic_tensor<T>::size(std::ptrdiff_t d) const {
    return shape()[wrap_dim("size", d, dim())];
}

template <class T>
bool basic_tensor<T>::is_contiguous() const {
    const impl_type& i = checked();
    std::size_t expected = 1;
    for (std::size_t d = i.shape.size(); d-- > 0;) {
        if (i.shape[d] != 1 && i.strides[d] != expected) return false;
        expected *= i.shape[d];
    }
    return true;
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
    return basic_tensor(impl_->grad).value_span();
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

// ---- views and copies --------------------------------------------------------------------------

template <class T>
basic_tensor<T> basic_tensor<T>::view(const sizes& shape) const {
    const std::vector<std::ptrdiff_t> s = as_signed(shape);
    return view(s);
}

template <class T>
basic_tensor<T> basic_tensor<T>::view(std::initializer_list<std::ptrdiff_t> shape) const {
    return view(std::vector<std::ptrdiff_t>(shape));
}

template <class T>
basic_tensor<T> basic_tensor<T>::view(const std::vector<std::ptrdiff_t>& shape) const {
    const sizes target = infer_shape("view", shape.data(), shape.data() + shape.size(), this->shape(), sizeof(T));
    if (!is_contiguous())
        throw shape_mismatch("view: the tensor of shape " + this->shape().str() + " and strides " +
                             strides().str() +
                             " is not contiguous, so it cannot be viewed with another shape; call "
                             "contiguous() first, or use reshape(), which copies when it must");
    basic_tensor out = alias(*this, target, contiguous_strides(target));
    record<view_node<T>>(out, {this}, this->shape());
    return out;
}

template <class T>
basic_tensor<T> basic_tensor<T>::reshape(const sizes& shape) const {
    return contiguous().view(shape);
}

template <class T>
basic_tensor<T> basic_tensor<T>::reshape(std::initializer_list<std::ptrdiff_t> shape) const {
    return contiguous().view(shape);
}

template <class T>
basic_tensor<T> basic_tensor<T>::reshape(const std::vector<std::ptrdiff_t>& shape) const {
    return contiguous().view(shape);
}

template <class T>
basic_tensor<T> basic_tensor<T>::flatten(std::ptrdiff_t start_dim, std::ptrdiff_t end_dim) const {
    const sizes& in = shape();
    const std::size_t start = wrap_dim("flatten", start_dim, in.size());
    const std::size_t end = wrap_dim("flatten", end_dim, in.size());
    if (start > end)
        throw std::invalid_argument("flatten: start_dim " + std::to_string(start_dim) +
                                    " comes after end_dim " + std::to_string(end_dim) + " for shape " +
                                    in.str());
    sizes out;
    if (in.empty()) {
        out.push_back(1);
        return reshape(out);
    }
    for (std::size_t d = 0; d < start; ++d) out.push_back(in[d]);
    std::size_t merged = 1;
    for (std::size_t d = start; d <= end; ++d) merged *= in[d];  // cannot overflow: see addressable()
    out.push_back(merged);
    for (std::size_t d = end + 1; d < in.size(); ++d) out.push_back(in[d]);
    return reshape(out);
}

template <class T>
basic_tensor<T> basic_tensor<T>::transpose(std::ptrdiff_t dim0, std::ptrdiff_t dim1) const {
    const std::size_t rank = dim();
    std::vector<std::ptrdiff_t> order(rank);
    std::iota(order.begin(), order.end(), std::ptrdiff_t{0});
    if (rank == 0) {
        wrap_dim("transpose", dim0, 0);
        wrap_dim("transpose", dim1, 0);
        return permute(order);
    }
    std::swap(order[wrap_dim("transpose", dim0, rank)], order[wrap_dim("transpose", dim1, rank)]);
    return permute(order);
}

template <class T>
basic_tensor<T> basic_tensor<T>::permute(std::initializer_list<std::ptrdiff_t> dims) const {
    return permute(std::vector<std::ptrdiff_t>(dims));
}

template <class T>
basic_tensor<T> basic_tensor<T>::permute(const std::vector<std::ptrdiff_t>& dims) const {
    const impl_type& i = checked();
    const std::size_t rank = i.shape.size();
    if (dims.size() != rank)
        throw shape_mismatch("permute: " + signed_text(dims.begin(), dims.end()) + " has " +
                             std::to_string(dims.size()) + " dimensions but the tensor has shape " +
                             i.shape.str());
    sizes shape, strides;
    std::vector<std::ptrdiff_t> inverse(rank, -1);
    for (std::size_t k = 0; k < rank; ++k) {
        const std::size_t d = wrap_dim("permute", dims[k], rank);
        if (inverse[d] != -1)
            throw shape_mismatch("permute: " + signed_text(dims.begin(), dims.end()) + " repeats dimension " +
                                 std::to_string(d));
        inverse[d] = static_cast<std::ptrdiff_t>(k);
        shape.push_back(i.shape[d]);
        strides.push_back(i.strides[d]);
    }
    basic_tensor out = alias(*this, shape, strides);
    record<permute_node<T>>(out, {this}, rank == 2 ? "transpose" : "permute", std::move(inverse));
    return out;
}

template <class T>
basic_tensor<T> basic_tensor<T>::contiguous() const {
    if (is_contiguous()) return *this;
    basic_tensor out = dense_copy(*this);
    record<copy_node<T>>(out, {this}, "contiguous");
    return out;
}

template <class T>
basic_tensor<T> basic_tensor<T>::clone() const {
    basic_tensor out = dense_copy(*this);
    record<copy_node<T>>(out, {this}, "clone");
    return out;
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

// ---- printing ----------------------------------------------------------------------------------

template <class T>
std::ostream& operator<<(std::ostream& os, const basic_tensor<T>& t) {
    if (!t.defined()) return os << "tensor(undefined)";
    if (t.is_uninitialized()) return os << "tensor(uninitialized)";
    os << "tensor(" << t.shape() << ", {";
    const std::vector<T> v = t.to_vector();
    constexpr std::size_t shown = 32;
    for (std::size_t i = 0; i < std::min(v.size(), shown); ++i) os << (i ? ", " : "") << v[i];
    if (v.size() > shown) os << ", ...";
    os << "}";
    if (t.grad_fn_name())
        os << ", grad_fn=" << t.grad_fn_name();
    else if (t.requires_grad())
        os << ", requires_grad";
    return os << ")";
}

template class basic_tensor<float>;
template class basic_tensor<double>;
template std::ostream& operator<<(std::ostream&, const basic_tensor<float>&);
template std::ostream& operator<<(std::ostream&, const basic_tensor<double>&);

}  // namespace katachi::eager
