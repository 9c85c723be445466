// katachi/kernels/softmax.hpp: softmax along one dimension of a tensor of any rank.
//
// y = exp(x - max) / sum(exp(x - max)) along `dim`; subtracting the line's maximum keeps exp from
// overflowing for large logits. The backward takes the forward's output:
// dx = y * (dy - sum(dy * y)) along the same dim.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

#include <katachi/kernels/elementwise.hpp>
#include <katachi/kernels/reduce_dim.hpp>

namespace katachi::kernels {

// y = softmax(x) along dim; y may alias x.
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void softmax_forward(const X& x, Y&& y, std::ptrdiff_t dim = -1) {
    using T = detail::value_t<X>;
    using A = detail::accumulator_t<T>;
    detail::require_same_shape("softmax_forward", "x", x, "y", y);
    const detail::dim_lines lines = detail::lines_along("softmax_forward", x, dim);
    const std::size_t n = lines.extent, step = lines.inner;
    for (std::size_t line = 0; line < lines.count(); ++line) {
        const T* xl = detail::data_of(x) + lines.start(line);
        T* yl = detail::data_of(y) + lines.start(line);
        T top = -std::numeric_limits<T>::infinity();
        for (std::size_t j = 0; j < n; ++j) top = std::fmax(top, xl[j * step]);
        A sum = 0;
        for (std::size_t j = 0; j < n; ++j) {
            const T e = std::exp(xl[j * step] - top);
            yl[j * step] = e;
            sum += e;
        }
        const T scale = static_cast<T>(A(1) / sum);
        for (std::size_t j = 0; j < n; ++j) yl[j * step] *= scale;
    }
}

// dx = y * (dy - sum(dy * y)) along dim.
template <detail::real_tensor Y, detail::input_of<detail::value_t<Y>> DY,
          detail::gradient_of<detail::value_t<Y>> DX>
void softmax_backward(const Y& y, const DY& dy, DX&& dx, std::ptrdiff_t dim = -1,
                      write mode = write::overwrite) {
    using T = detail::value_t<Y>;
    using A = detail::accumulator_t<T>;
    if constexpr (!is_none_v<DX>) {
        detail::require_same_shape("softmax_backward", "y", y, "dy", dy);
        detail::require_same_shape("softmax_backward", "y", y, "dx", dx);
        const detail::dim_lines lines = detail::lines_along("softmax_backward", y, dim);
        const std::size_t n = lines.extent, step = lines.inner;
        for (std::size_t line = 0; line < lines.count(); ++line) {
            const T* yl = detail::data_of(y) + lines.start(line);
            const T* gl = detail::data_of(dy) + lines.start(line);
            T* dxl = detail::data_of(dx) + lines.start(line);
            A dot = 0;
            for (std::size_t j = 0; j < n; ++j) dot += A(yl[j * step]) * A(gl[j * step]);
            const T t = static_cast<T>(dot);
            for (std::size_t j = 0; j < n; ++j)
                detail::store(dxl, j * step, yl[j * step] * (gl[j * step] - t), mode);
        }
    }
}

}  // namespace katachi::kernels
