// Reductions along one dimension: sum, mean, max, min, argmax, argmin (reductions.hpp), each
// forward with its derivative beside it. A tensor reduced along dim d is outer x extent x inner
// (kernels/reduce_dim.hpp's dim_lines); line (o, i) runs over the extent with step inner.
#include "katachi/eager/functional/reductions.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "broadcast.hpp"
#include "katachi/kernels/reduce_dim.hpp"

namespace katachi::eager {

namespace {

using kernels::detail::dim_lines;

struct reduction {
    dim_lines lines;
    sizes out;  // the result's shape
};

reduction reduce_along(const char* op, const sizes& in, std::ptrdiff_t dim, bool keepdim) {
    const std::size_t d = detail::torch_dim(op, dim, in.size());
    reduction r;
    if (in.empty()) return r;  // a scalar: one line of one element, and a scalar again
    for (std::size_t i = 0; i < d; ++i) r.lines.outer *= in[i];
    r.lines.extent = in[d];
    for (std::size_t i = d + 1; i < in.size(); ++i) r.lines.inner *= in[i];
    for (std::size_t i = 0; i < in.size(); ++i)
        if (i != d)
            r.out.push_back(in[i]);
        else if (keepdim)
            r.out.push_back(1);
    return r;
}

// ---- sum and mean: the gradient of each output spreads over its line (times 1/extent for mean) ----------
template <class T>
struct spread_dim_node final : node<T> {
    sizes input_shape;
    dim_lines lines;
    T factor;
    spread_dim_node(const char* name, const sizes& s, dim_lines l, T f)
        : node<T>(name), input_shape(s), lines(l), factor(f) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = basic_tensor<T>::empty(input_shape);
        T* o = dx[0].data();
        const T* g = dy.data();
        for (std::size_t line = 0; line < lines.count(); ++line) {
            const std::size_t start = lines.start(line);
            for (std::size_t j = 0; j < lines.extent; ++j) o[start + j * lines.inner] = g[line] * factor;
        }
    }
};

// ---- max and min: the gradient of each output goes to the element it chose --------------------------------
template <class T>
struct choose_node final : node<T> {
    sizes input_shape;
    dim_lines lines;
    std::vector<std::int64_t> chosen;
    choose_node(const char* name, const sizes& s, dim_lines l, std::vector<std::int64_t> c)
        : node<T>(name), input_shape(s), lines(l), chosen(std::move(c)) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = basic_tensor<T>::zeros(input_shape);
        T* o = dx[0].data();
        const T* g = dy.data();
        for (std::size_t line = 0; line < lines.count(); ++line)
            o[lines.start(line) + static_cast<std::size_t>(chosen[line]) * lines.inner] = g[line];
    }
    void release_saved() override { chosen = {}; }
};

template <class T>
basic_tensor<T> sum_or_mean(const char* op, const basic_tensor<T>& x_in, std::ptrdiff_t dim, bool keepdim, bool mean) {
    const reduction r = reduce_along(op, x_in.shape(), dim, keepdim);
    const basic_tensor<T> x = x_in.contiguous();
    basic_tensor<T> y = basic_tensor<T>::empty(r.out);
    const T* p = x.data();
    T* o = y.data();
    const dim_lines& l = r.lines;
    for (std::size_t line = 0; line < l.count(); ++line) {
        const std::size_t start = l.start(line);
        double total = 0;
        for (std::size_t j = 0; j < l.extent; ++j) total += p[start + j * l.inner];
        o[line] = static_cast<T>(mean ? total / static_cast<double>(l.extent) : total);
    }
    const T factor = mean ? static_cast<T>(1.0 / static_cast<double>(l.extent)) : T(1);
    record<spread_dim_node<T>>(y, {&x}, op, x.shape(), l, factor);
    return y;
}

// The index of the largest (largest: true) or smallest element of each line: the first among equals,
// and a NaN before any number.
template <class T>
std::vector<std::int64_t> choose(const char* op, const basic_tensor<T>& x, const reduction& r, bool largest,
                                 std::ptrdiff_t dim) {
    const dim_lines& l = r.lines;
    if (l.extent == 0)
        throw std::out_of_range(std::string(op) + "(): Expected reduction dim " +
                                std::to_string(detail::torch_dim(op, dim, x.dim())) + " to have non-zero size.");
    std::vector<std::int64_t> chosen(l.count());
    const T* p = x.data();
    for (std::size_t line = 0; line < l.count(); ++line) {
        const std::size_t start = l.start(line);
        std::size_t best = 0;
        T value = p[start];
        for (std::size_t j = 1; j < l.extent && !std::isnan(value); ++j) {
            const T v = p[start + j * l.inner];
            if (std::isnan(v) || (largest ? v > value : v < value)) {
                value = v;
                best = j;
            }
        }
        chosen[line] = static_cast<std::int64_t>(best);
    }
    return chosen;
}

template <class T>
values_and_indices<T> max_or_min(const char* op, const basic_tensor<T>& x_in, std::ptrdiff_t dim, bool keepdim,
                                 bool largest) {
    const reduction r = reduce_along(op, x_in.shape(), dim, keepdim);
    const basic_tensor<T> x = x_in.contiguous();
    std::vector<std::int64_t> chosen = choose(op, x, r, largest, dim);
    basic_tensor<T> y = basic_tensor<T>::empty(r.out);
    const T* p = x.data();
    for (std::size_t line = 0; line < chosen.size(); ++line)
        y.data()[line] = p[r.lines.start(line) + static_cast<std::size_t>(chosen[line]) * r.lines.inner];
    index_tensor indices(chosen, r.out);
    record<choose_node<T>>(y, {&x}, op, x.shape(), r.lines, std::move(chosen));
    return {y, std::move(indices)};
}

template <class T>
index_tensor arg(const char* op, const basic_tensor<T>& x_in, std::ptrdiff_t dim, bool keepdim, bool largest) {
    const reduction r = reduce_along(op, x_in.shape(), dim, keepdim);
    const basic_tensor<T> x = x_in.contiguous();
    return index_tensor(choose(op, x, r, largest, dim), r.out);
}

}  // namespace

template <class T>
basic_tensor<T> sum(const basic_tensor<T>& x, std::ptrdiff_t dim, bool keepdim) {
    return sum_or_mean("sum", x, dim, keepdim, false);
}

template <class T>
basic_tensor<T> mean(const basic_tensor<T>& x, std::ptrdiff_t dim, bool keepdim) {
    return sum_or_mean("mean", x, dim, keepdim, true);
}

template <class T>
values_and_indices<T> max(const basic_tensor<T>& x, std::ptrdiff_t dim, bool keepdim) {
    return max_or_min("max", x, dim, keepdim, true);
}

template <class T>
values_and_indices<T> min(const basic_tensor<T>& x, std::ptrdiff_t dim, bool keepdim) {
    return max_or_min("min", x, dim, keepdim, false);
}

template <class T>
index_tensor argmax(const basic_tensor<T>& x, std::ptrdiff_t dim, bool keepdim) {
    return arg("argmax", x, dim, keepdim, true);
}

template <class T>
index_tensor argmin(const basic_tensor<T>& x, std::ptrdiff_t dim, bool keepdim) {
    return arg("argmin", x, dim, keepdim, false);
}

#define KATACHI_REDUCTIONS(T)                                                                   \
    template basic_tensor<T> sum(const basic_tensor<T>&, std::ptrdiff_t, bool);                 \
    template basic_tensor<T> mean(const basic_tensor<T>&, std::ptrdiff_t, bool);                \
    template values_and_indices<T> max(const basic_tensor<T>&, std::ptrdiff_t, bool);           \
    template values_and_indices<T> min(const basic_tensor<T>&, std::ptrdiff_t, bool);           \
    template index_tensor argmax(const basic_tensor<T>&, std::ptrdiff_t, bool);                 \
    template index_tensor argmin(const basic_tensor<T>&, std::ptrdiff_t, bool);
KATACHI_REDUCTIONS(float)
KATACHI_REDUCTIONS(double)
#undef KATACHI_REDUCTIONS

}  // namespace katachi::eager
