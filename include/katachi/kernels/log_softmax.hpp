// katachi/kernels/log_softmax.hpp: log-softmax along one dimension of a tensor of any rank.
//
// y = x - max - log(sum(exp(x - max))) along `dim`, never forming the softmax itself, so large
// negative logits give large negative y rather than log(0). The backward takes the forward's output:
// dx = dy - exp(y) * sum(dy) along the same dim.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

#include <katachi/kernels/elementwise.hpp>
#include <katachi/kernels/reduce_dim.hpp>

namespace katachi::kernels {

namespace detail {

// One line of the backward: dx[j] (=|+=) dy_at(j) - exp(y[j]) * dy_sum, where dy_sum is the sum of
// dy_at over the line. Shared with cross_entropy, whose incoming gradient is known in closed form.
template <class T, class DyAt>
void log_softmax_backward_line(const T* y, std::size_t n, std::size_t step, DyAt dy_at, T dy_sum, T* dx,
                               write mode) {
    for (std::size_t j = 0; j < n; ++j) store(dx, j * step, dy_at(j) - std::exp(y[j * step]) * dy_sum, mode);
}

}  // namespace detail

// y = log_softmax(x) along dim; y may alias x.
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void log_softmax_forward(const X& x, Y&& y, std::ptrdiff_t dim = -1) {
    using T = detail::value_t<X>;
    using A = detail::accumulator_t<T>;
    detail::require_same_shape("log_softmax_forward", "x", x, "y", y);
    const detail::dim_lines lines = detail::lines_along("log_softmax_forward", x, dim);
    const std::size_t n = lines.extent, step = lines.inner;
    for (std::size_t line = 0; line < lines.count(); ++line) {
        const T* xl = detail::data_of(x) + lines.start(line);
        T* yl = detail::data_of(y) + lines.start(line);
        T top = -std::numeric_limits<T>::infinity();
        for (std::size_t j = 0; j < n; ++j) top = std::fmax(top, xl[j * step]);
        A sum = 0;
        for (std::size_t j = 0; j < n; ++j) sum += std::exp(xl[j * step] - top);
        const T log_sum = static_cast<T>(std::log(sum));
        for (std::size_t j = 0; j < n; ++j) yl[j * step] = (xl[j * step] - top) - log_sum;
    }
}

// dx = dy - exp(y) * sum(dy) along dim.
template <detail::real_tensor Y, detail::input_of<detail::value_t<Y>> DY,
          detail::gradient_of<detail::value_t<Y>> DX>
void log_softmax_backward(const Y& y, const DY& dy, DX&& dx, std::ptrdiff_t dim = -1,
                          write mode = write::overwrite) {
    using T = detail::value_t<Y>;
    using A = detail::accumulator_t<T>;
    if constexpr (!is_none_v<DX>) {
        detail::require_same_shape("log_softmax_backward", "y", y, "dy", dy);
        detail::require_same_shape("log_softmax_backward", "y", y, "dx", dx);
        const detail::dim_lines lines = detail::lines_along("log_softmax_backward", y, dim);
        const std::size_t n = lines.extent, step = lines.inner;
        for (std::size_t line = 0; line < lines.count(); ++line) {
            const T* gl = detail::data_of(dy) + lines.start(line);
            A sum = 0;
            for (std::size_t j = 0; j < n; ++j) sum += gl[j * step];
            detail::log_softmax_backward_line(
                detail::data_of(y) + lines.start(line), n, step,
                [gl, step](std::size_t j) { return gl[j * step]; }, static_cast<T>(sum),
                detail::data_of(dx) + lines.start(line), mode);
        }
    }
}

}  // namespace katachi::kernels
