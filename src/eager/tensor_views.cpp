// The eager tensor's views and copies (view, reshape, flatten, transpose, permute, contiguous,
// clone) and their derivatives. The rest of the tensor is in tensor.cpp.
#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "katachi/eager/autograd.hpp"
#include "katachi/eager/tensor.hpp"
#include "support.hpp"

namespace katachi::eager {

namespace {

using detail::alias;
using detail::wrap_dim;

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

}  // namespace

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

// Their instantiations; tensor.cpp instantiates the rest of the class.
#define KATACHI_TENSOR_VIEWS(T)                                                                     \
    template basic_tensor<T> basic_tensor<T>::view(const sizes&) const;                             \
    template basic_tensor<T> basic_tensor<T>::view(std::initializer_list<std::ptrdiff_t>) const;    \
    template basic_tensor<T> basic_tensor<T>::view(const std::vector<std::ptrdiff_t>&) const;       \
    template basic_tensor<T> basic_tensor<T>::reshape(const sizes&) const;                          \
    template basic_tensor<T> basic_tensor<T>::reshape(std::initializer_list<std::ptrdiff_t>) const; \
    template basic_tensor<T> basic_tensor<T>::reshape(const std::vector<std::ptrdiff_t>&) const;    \
    template basic_tensor<T> basic_tensor<T>::flatten(std::ptrdiff_t, std::ptrdiff_t) const;        \
    template basic_tensor<T> basic_tensor<T>::transpose(std::ptrdiff_t, std::ptrdiff_t) const;      \
    template basic_tensor<T> basic_tensor<T>::permute(std::initializer_list<std::ptrdiff_t>) const; \
    template basic_tensor<T> basic_tensor<T>::permute(const std::vector<std::ptrdiff_t>&) const;    \
    template basic_tensor<T> basic_tensor<T>::contiguous() const;                                   \
    template basic_tensor<T> basic_tensor<T>::clone() const;
KATACHI_TENSOR_VIEWS(float)
KATACHI_TENSOR_VIEWS(double)
#undef KATACHI_TENSOR_VIEWS

}  // namespace katachi::eager
