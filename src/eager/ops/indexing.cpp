// Taking parts of a tensor: the views narrow, select and slice (tensor.hpp) and the copy
// index_select (indexing.hpp), each forward with its derivative beside it. cat and stack are in
// joining.cpp.
#include <string>
#include <vector>

#include "broadcast.hpp"
#include "katachi/eager/functional/indexing.hpp"

namespace katachi::eager {

namespace {

// A part of dimension d: `length` elements from `start`, `step` apart; `drop` removes the dimension
// (select takes one element).
struct part {
    std::size_t dim = 0, start = 0, length = 0, step = 1;
    bool drop = false;
};

struct layout {
    sizes shape, strides;
    std::size_t offset = 0;  // in elements, from the tensor's first element
};

layout part_of(const sizes& shape, const sizes& strides, const part& p) {
    layout l;
    l.offset = p.start * strides[p.dim];
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i != p.dim) {
            l.shape.push_back(shape[i]);
            l.strides.push_back(strides[i]);
        } else if (!p.drop) {
            l.shape.push_back(p.length);
            l.strides.push_back(strides[i] * p.step);
        }
    }
    return l;
}

// The gradient of a part: zeros of the input's shape with dy written where the part lies.
template <class T>
struct part_node final : node<T> {
    sizes input_shape;
    part where;
    part_node(const char* name, const sizes& s, const part& p) : node<T>(name), input_shape(s), where(p) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = basic_tensor<T>::zeros(input_shape);
        const layout l = part_of(input_shape, contiguous_strides(input_shape), where);
        T* o = dx[0].data() + l.offset;
        const T* g = dy.data();
        detail::for_each_offset(l.shape, l.strides, [&](std::size_t at) { o[at] = *g++; });
    }
};

template <class T>
basic_tensor<T> view_part(const char* name, const basic_tensor<T>& x, const part& p) {
    const layout l = part_of(x.shape(), x.strides(), p);
    basic_tensor<T> out = detail::alias(x, l.shape, l.strides);
    out.impl()->offset += l.offset;
    record<part_node<T>>(out, {&x}, name, x.shape(), p);
    return out;
}

void require_rank(const char* op, std::size_t rank) {
    if (rank == 0) throw std::out_of_range(std::string(op) + "() cannot be applied to a 0-dim tensor.");
}

// ---- index_select: the gradient of each taken element is added back where it came from ----------------------
template <class T>
struct index_select_node final : node<T> {
    sizes input_shape;
    std::size_t outer, extent, inner;
    std::vector<std::int64_t> index;
    index_select_node(const sizes& s, std::size_t o, std::size_t e, std::size_t i, std::vector<std::int64_t> idx)
        : node<T>("index_select"), input_shape(s), outer(o), extent(e), inner(i), index(std::move(idx)) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = basic_tensor<T>::zeros(input_shape);
        T* o = dx[0].data();
        const T* g = dy.data();
        for (std::size_t a = 0; a < outer; ++a)
            for (std::size_t k = 0; k < index.size(); ++k, g += inner) {
                T* row = o + (a * extent + static_cast<std::size_t>(index[k])) * inner;
                for (std::size_t i = 0; i < inner; ++i) row[i] += g[i];
            }
    }
    void release_saved() override { index = {}; }
};

}  // namespace

template <class T>
basic_tensor<T> basic_tensor<T>::narrow(std::ptrdiff_t dim, std::ptrdiff_t start, std::ptrdiff_t length) const {
    require_rank("narrow", this->dim());
    part p;
    p.dim = detail::torch_dim("narrow", dim, this->dim());
    const auto size = static_cast<std::ptrdiff_t>(shape()[p.dim]);
    if (start != size) start = static_cast<std::ptrdiff_t>(detail::torch_dim("narrow", start, shape()[p.dim]));
    if (length < 0 || start + length > size)
        throw std::out_of_range("narrow: start (" + std::to_string(start) + ") + length (" + std::to_string(length) +
                                ") exceeds dimension size (" + std::to_string(size) + ").");
    p.start = static_cast<std::size_t>(start);
    p.length = static_cast<std::size_t>(length);
    return view_part("narrow", *this, p);
}

template <class T>
basic_tensor<T> basic_tensor<T>::select(std::ptrdiff_t dim, std::ptrdiff_t index) const {
    require_rank("select", this->dim());
    part p;
    p.dim = detail::torch_dim("select", dim, this->dim());
    const auto size = static_cast<std::ptrdiff_t>(shape()[p.dim]);
    if (index < -size || index >= size)
        throw std::out_of_range("select(): index " + std::to_string(index) + " out of range for tensor of size " +
                                shape().str() + " at dimension " + std::to_string(p.dim));
    p.start = static_cast<std::size_t>(index < 0 ? index + size : index);
    p.length = 1;
    p.drop = true;
    return view_part("select", *this, p);
}

template <class T>
basic_tensor<T> basic_tensor<T>::slice(std::ptrdiff_t dim, std::optional<std::ptrdiff_t> start,
                                       std::optional<std::ptrdiff_t> end, std::ptrdiff_t step) const {
    require_rank("slice", this->dim());
    if (step <= 0) throw std::invalid_argument("slice: step must be greater than zero, got " + std::to_string(step));
    part p;
    p.dim = detail::torch_dim("slice", dim, this->dim());
    const auto size = static_cast<std::ptrdiff_t>(shape()[p.dim]);
    const auto bound = [size](std::optional<std::ptrdiff_t> v, std::ptrdiff_t missing) {
        std::ptrdiff_t b = v ? *v : missing;
        if (b < 0) b += size;
        return std::clamp<std::ptrdiff_t>(b, 0, size);
    };
    const std::ptrdiff_t first = bound(start, 0), last = std::max(first, bound(end, size));
    p.start = static_cast<std::size_t>(first);
    p.length = static_cast<std::size_t>((last - first + step - 1) / step);
    p.step = static_cast<std::size_t>(step);
    return view_part("slice", *this, p);
}

template <class T>
basic_tensor<T> index_select(const basic_tensor<T>& x_in, std::ptrdiff_t dim, std::span<const std::int64_t> index) {
    const std::size_t d = detail::torch_dim("index_select", dim, x_in.dim());
    const basic_tensor<T> x = x_in.contiguous();
    const sizes& in = x.shape();
    std::size_t outer = 1, extent = in.empty() ? 1 : in[d], inner = 1;
    for (std::size_t i = 0; i < d && i < in.size(); ++i) outer *= in[i];
    for (std::size_t i = d + 1; i < in.size(); ++i) inner *= in[i];
    for (const std::int64_t k : index)
        if (k < 0 || static_cast<std::size_t>(k) >= extent)
            throw std::out_of_range("index_select(): index " + std::to_string(k) + " is out of bounds for dimension " +
                                    std::to_string(d) + " with size " + std::to_string(extent));
    sizes out;
    for (std::size_t i = 0; i < in.size(); ++i) out.push_back(i == d ? index.size() : in[i]);
    if (in.empty() && index.size() != 1) out.push_back(index.size());
    basic_tensor<T> y = basic_tensor<T>::empty(out);
    const T* p = x.data();
    T* o = y.data();
    for (std::size_t a = 0; a < outer; ++a)
        for (const std::int64_t k : index) {
            const T* row = p + (a * extent + static_cast<std::size_t>(k)) * inner;
            o = std::copy(row, row + inner, o);
        }
    record<index_select_node<T>>(y, {&x}, in, outer, extent, inner,
                                 std::vector<std::int64_t>(index.begin(), index.end()));
    return y;
}

template <class T>
basic_tensor<T> index_select(const basic_tensor<T>& x, std::ptrdiff_t dim, const index_tensor& index) {
    if (index.dim() > 1) throw std::invalid_argument("index_select(): Index is supposed to be a vector");
    return index_select(x, dim, index.span());
}

#define KATACHI_INDEXING(T)                                                                                    \
    template basic_tensor<T> basic_tensor<T>::narrow(std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t) const;     \
    template basic_tensor<T> basic_tensor<T>::select(std::ptrdiff_t, std::ptrdiff_t) const;                     \
    template basic_tensor<T> basic_tensor<T>::slice(std::ptrdiff_t, std::optional<std::ptrdiff_t>,              \
                                                    std::optional<std::ptrdiff_t>, std::ptrdiff_t) const;       \
    template basic_tensor<T> index_select(const basic_tensor<T>&, std::ptrdiff_t, std::span<const std::int64_t>); \
    template basic_tensor<T> index_select(const basic_tensor<T>&, std::ptrdiff_t, const index_tensor&);
KATACHI_INDEXING(float)
KATACHI_INDEXING(double)
#undef KATACHI_INDEXING

}  // namespace katachi::eager
