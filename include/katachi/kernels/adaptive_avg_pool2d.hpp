// katachi/kernels/adaptive_avg_pool2d.hpp: adaptive 2-d average pooling, forward and backward.
//
// The output size (Ho, Wo) is whatever y holds; output (i, j) averages the input rows and columns
// of katachi::adaptive_pool_window(i, H, Ho) x adaptive_pool_window(j, W, Wo), as PyTorch's
// adaptive_avg_pool2d does (windows may overlap when the sizes do not divide).
// Tensors are rank 4 [N, C, H, W]; N and C of input and output must match.
#pragma once

#include <katachi/error.hpp>
#include <cstddef>
#include <katachi/kernels/common.hpp>
#include <katachi/kernels/pool_common.hpp>
#include <katachi/shape.hpp>
#include <string>
#include <type_traits>

namespace katachi::kernels {

namespace detail {

template <class A, class B>
void require_adaptive_sizes(const char* op, const char* a_name, const A& a, const char* b_name, const B& b) {
    require_same_planes(op, a, b);
    if (a.shape()[2] == 0 || a.shape()[3] == 0 || b.shape()[2] == 0 || b.shape()[3] == 0)
        KATACHI_THROW(shape_mismatch, std::string(op) + ": " + a_name + " has shape " + shape_text(a) + " and " +
                             b_name + " has shape " + shape_text(b) +
                             "; adaptive pooling needs non-empty planes");
}

// Calls f(plane, row window, column window) for every output position.
template <class F>
void for_each_adaptive_window(std::size_t planes, std::size_t H, std::size_t W, std::size_t Ho,
                              std::size_t Wo, F&& f) {
    for (std::size_t plane = 0; plane < planes; ++plane)
        for (std::size_t i = 0; i < Ho; ++i) {
            const adaptive_window wh = adaptive_pool_window(i, H, Ho);
            for (std::size_t j = 0; j < Wo; ++j) f(plane, wh, adaptive_pool_window(j, W, Wo));
        }
}

}  // namespace detail

// y[n, c, i, j] = mean of x[n, c] over the adaptive window (i, j); (Ho, Wo) are y's last two sizes.
template <class X, class Y>
void adaptive_avg_pool2d_forward(const X& x, Y&& y) {
    using T = typename std::remove_cvref_t<X>::value_type;
    static_assert(std::is_floating_point_v<T>, "adaptive_avg_pool2d_forward: x must hold float or double");
    static_assert(std::is_same_v<typename std::remove_cvref_t<Y>::value_type, T>,
                  "adaptive_avg_pool2d_forward: y must hold the same scalar type as x");
    constexpr const char* op = "adaptive_avg_pool2d_forward";
    detail::require_pooling_batch(op, "x", x);
    detail::require_pooling_batch(op, "y", y);
    detail::require_adaptive_sizes(op, "x", x, "y", y);
    const std::size_t H = x.shape()[2], W = x.shape()[3];
    const T* xp = detail::data_of(x);
    T* yp = detail::data_of(y);
    detail::for_each_adaptive_window(
        x.shape()[0] * x.shape()[1], H, W, y.shape()[2], y.shape()[3],
        [&](std::size_t plane, adaptive_window wh, adaptive_window ww) {
            const T* src = xp + plane * H * W;
            double sum = 0;
            for (std::size_t h = wh.begin; h < wh.end; ++h)
                for (std::size_t w = ww.begin; w < ww.end; ++w) sum += src[h * W + w];
            *yp++ = static_cast<T>(sum / static_cast<double>((wh.end - wh.begin) * (ww.end - ww.begin)));
        });
}

// dx[n, c, h, w] = sum over the windows containing (h, w) of dy / window area. dx has the forward's
// input shape; it is cleared first unless mode is write::accumulate. `none` computes nothing.
template <class DY, class DX>
void adaptive_avg_pool2d_backward(const DY& dy, DX&& dx, write mode = write::overwrite) {
    using T = typename std::remove_cvref_t<DY>::value_type;
    static_assert(std::is_floating_point_v<T>, "adaptive_avg_pool2d_backward: dy must hold float or double");
    constexpr const char* op = "adaptive_avg_pool2d_backward";
    detail::require_pooling_batch(op, "dy", dy);
    if constexpr (!is_none_v<DX>) {
        static_assert(std::is_same_v<typename std::remove_cvref_t<DX>::value_type, T>,
                      "adaptive_avg_pool2d_backward: dx must hold the same scalar type as dy");
        detail::require_pooling_batch(op, "dx", dx);
        detail::require_adaptive_sizes(op, "dx", dx, "dy", dy);
        const std::size_t H = dx.shape()[2], W = dx.shape()[3];
        const T* gp = detail::data_of(dy);
        T* dp = detail::data_of(dx);
        if (mode == write::overwrite)
            for (std::size_t k = 0; k < dx.size(); ++k) dp[k] = T(0);
        detail::for_each_adaptive_window(
            dy.shape()[0] * dy.shape()[1], H, W, dy.shape()[2], dy.shape()[3],
            [&](std::size_t plane, adaptive_window wh, adaptive_window ww) {
                T* dst = dp + plane * H * W;
                const T g = *gp++ / static_cast<T>((wh.end - wh.begin) * (ww.end - ww.begin));
                for (std::size_t h = wh.begin; h < wh.end; ++h)
                    for (std::size_t w = ww.begin; w < ww.end; ++w) dst[h * W + w] += g;
            });
    }
}

}  // namespace katachi::kernels
