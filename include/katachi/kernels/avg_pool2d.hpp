// katachi/kernels/avg_pool2d.hpp: 2-d average pooling over NCHW batches, forward and backward.
//
// Each output is the sum over its window of the input, divided by a divisor chosen as PyTorch does:
// * the window is first clipped to the padded input [-p, size + p); its area there is the divisor
//   when count_include_pad is true (padding counts, the overhang past the padding that ceil_mode
//   allows does not);
// * with count_include_pad false the divisor is the area of the window inside the input itself;
// * a non-zero divisor_override replaces both.
// The input must be rank 4 [N, C, H, W]. A stride of {0, 0} means "equal to the kernel size".
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <katachi/kernels/common.hpp>
#include <katachi/kernels/pool_common.hpp>
#include <katachi/shape.hpp>
#include <type_traits>

namespace katachi::kernels {

struct avg_pool2d_options {
    std::array<std::size_t, 2> kernel_size{2, 2};
    std::array<std::size_t, 2> stride{0, 0};  // {0, 0} means equal to kernel_size
    std::array<std::size_t, 2> padding{0, 0};
    bool ceil_mode = false;
    bool count_include_pad = true;
    std::size_t divisor_override = 0;  // 0 means none
};

// [N, C, Ho, Wo] for an input of shape `x_shape` (any sequence of sizes, e.g. x.shape()).
template <class S>
std::array<std::size_t, 4> avg_pool2d_output_shape(const S& x_shape, const avg_pool2d_options& opts = {}) {
    const auto stride = detail::pooling_stride(opts.stride, opts.kernel_size);
    auto out = detail::pooling_input_dims("avg_pool2d", x_shape);
    for (std::size_t k = 0; k < 2; ++k)
        out[2 + k] = pool_output_size("avg_pool2d", {.input = out[2 + k],
                                                     .kernel = opts.kernel_size[k],
                                                     .stride = stride[k],
                                                     .padding = opts.padding[k],
                                                     .ceil_mode = opts.ceil_mode});
    return out;
}

namespace detail {

// One window along one axis: the input range [begin, end) it covers and its extent inside the
// padded input (the count that count_include_pad uses).
struct avg_window {
    std::ptrdiff_t begin;
    std::ptrdiff_t end;
    std::ptrdiff_t padded_extent;
};

inline avg_window avg_pool_window(std::ptrdiff_t i, std::ptrdiff_t input, std::ptrdiff_t kernel,
                                  std::ptrdiff_t stride, std::ptrdiff_t padding) {
    const std::ptrdiff_t start = i * stride - padding;
    const std::ptrdiff_t stop = std::min(start + kernel, input + padding);
    return {std::max<std::ptrdiff_t>(start, 0), std::min(stop, input), stop - start};
}

// Calls f(plane, window_h, window_w, divisor) for every output position; shared by both passes.
template <class F>
void for_each_avg_window(const std::array<std::size_t, 4>& in, const std::array<std::size_t, 4>& out,
                         const avg_pool2d_options& opts, F&& f) {
    const auto stride = pooling_stride(opts.stride, opts.kernel_size);
    const auto H = static_cast<std::ptrdiff_t>(in[2]), W = static_cast<std::ptrdiff_t>(in[3]);
    const auto Ho = static_cast<std::ptrdiff_t>(out[2]), Wo = static_cast<std::ptrdiff_t>(out[3]);
    const std::size_t planes = out[0] * out[1];
    for (std::size_t plane = 0; plane < planes; ++plane)
        for (std::ptrdiff_t i = 0; i < Ho; ++i) {
            const avg_window wh = avg_pool_window(i, H, static_cast<std::ptrdiff_t>(opts.kernel_size[0]),
                                                  static_cast<std::ptrdiff_t>(stride[0]),
                                                  static_cast<std::ptrdiff_t>(opts.padding[0]));
            for (std::ptrdiff_t j = 0; j < Wo; ++j) {
                const avg_window ww = avg_pool_window(j, W, static_cast<std::ptrdiff_t>(opts.kernel_size[1]),
                                                      static_cast<std::ptrdiff_t>(stride[1]),
                                                      static_cast<std::ptrdiff_t>(opts.padding[1]));
                std::ptrdiff_t divisor;
                if (opts.divisor_override != 0)
                    divisor = static_cast<std::ptrdiff_t>(opts.divisor_override);
                else if (opts.count_include_pad)
                    divisor = wh.padded_extent * ww.padded_extent;
                else
                    divisor = (wh.end - wh.begin) * (ww.end - ww.begin);
                f(plane, wh, ww, divisor);
            }
        }
}

}  // namespace detail

// y[n, c, i, j] = (sum of x over the window at (i s0 - p0, j s1 - p1)) / divisor.
template <class X, class Y>
void avg_pool2d_forward(const X& x, Y&& y, const avg_pool2d_options& opts = {}) {
    using T = typename std::remove_cvref_t<X>::value_type;
    static_assert(std::is_floating_point_v<T>, "avg_pool2d_forward: x must hold float or double");
    static_assert(std::is_same_v<typename std::remove_cvref_t<Y>::value_type, T>,
                  "avg_pool2d_forward: y must hold the same scalar type as x");
    constexpr const char* op = "avg_pool2d_forward";
    detail::require_pooling_batch(op, "x", x);
    const auto in = detail::pooling_input_dims(op, x.shape());
    const auto out = avg_pool2d_output_shape(in, opts);
    detail::require_shape(op, "y", y, {out[0], out[1], out[2], out[3]});
    const T* xp = detail::data_of(x);
    T* yp = detail::data_of(y);
    const std::size_t plane_in = in[2] * in[3];
    const auto W = static_cast<std::ptrdiff_t>(in[3]);
    detail::for_each_avg_window(
        in, out, opts,
        [&](std::size_t plane, detail::avg_window wh, detail::avg_window ww, std::ptrdiff_t divisor) {
            const T* src = xp + plane * plane_in;
            double sum = 0;
            for (std::ptrdiff_t h = wh.begin; h < wh.end; ++h)
                for (std::ptrdiff_t w = ww.begin; w < ww.end; ++w) sum += src[h * W + w];
            *yp++ = divisor == 0 ? T(0) : static_cast<T>(sum / static_cast<double>(divisor));
        });
}

// dx[n, c, h, w] = sum over the windows containing (h, w) of dy / divisor. dx has the forward's
// input shape; it is cleared first unless mode is write::accumulate. `none` computes nothing.
template <class DY, class DX>
void avg_pool2d_backward(const DY& dy, DX&& dx, const avg_pool2d_options& opts = {},
                         write mode = write::overwrite) {
    using T = typename std::remove_cvref_t<DY>::value_type;
    static_assert(std::is_floating_point_v<T>, "avg_pool2d_backward: dy must hold float or double");
    constexpr const char* op = "avg_pool2d_backward";
    detail::require_pooling_batch(op, "dy", dy);
    if constexpr (!is_none_v<DX>) {
        static_assert(std::is_same_v<typename std::remove_cvref_t<DX>::value_type, T>,
                      "avg_pool2d_backward: dx must hold the same scalar type as dy");
        detail::require_pooling_batch(op, "dx", dx);
        const auto in = detail::pooling_input_dims(op, dx.shape());
        const auto out = avg_pool2d_output_shape(in, opts);
        detail::require_shape(op, "dy", dy, {out[0], out[1], out[2], out[3]});
        const T* gp = detail::data_of(dy);
        T* dp = detail::data_of(dx);
        const std::size_t plane_in = in[2] * in[3];
        if (mode == write::overwrite)
            for (std::size_t k = 0; k < plane_in * in[0] * in[1]; ++k) dp[k] = T(0);
        const auto W = static_cast<std::ptrdiff_t>(in[3]);
        detail::for_each_avg_window(
            in, out, opts,
            [&](std::size_t plane, detail::avg_window wh, detail::avg_window ww, std::ptrdiff_t divisor) {
                T* dst = dp + plane * plane_in;
                const T g = divisor == 0 ? T(0) : *gp / static_cast<T>(divisor);
                ++gp;
                for (std::ptrdiff_t h = wh.begin; h < wh.end; ++h)
                    for (std::ptrdiff_t w = ww.begin; w < ww.end; ++w) dst[h * W + w] += g;
            });
    }
}

}  // namespace katachi::kernels
