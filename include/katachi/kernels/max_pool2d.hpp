// katachi/kernels/max_pool2d.hpp: 2-d max pooling over NCHW batches, forward and backward.
//
// The forward also returns, for every output element, where its maximum came from: the flat index
// h * W + w inside its own input plane, as PyTorch's max_pool2d(return_indices=True) does. Padding
// counts as -inf. Within a window the first maximum in row-major order wins; a NaN counts as the
// maximum (it propagates). The backward scatters each output gradient to that index, adding where
// windows overlap.
//
// The input must be a batch, rank 4 [N, C, H, W]; a single image [C, H, W] needs a leading 1.
// A stride of {0, 0} means "equal to the kernel size" (PyTorch's default); a stride with one zero
// is an error (katachi::shape_arithmetic_error, rule zero_stride).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <katachi/kernels/common.hpp>
#include <katachi/kernels/pool_common.hpp>
#include <katachi/parallel.hpp>
#include <katachi/shape.hpp>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace katachi::kernels {

struct max_pool2d_options {
    std::array<std::size_t, 2> kernel_size{2, 2};
    std::array<std::size_t, 2> stride{0, 0};  // {0, 0} means equal to kernel_size
    std::array<std::size_t, 2> padding{0, 0};
    std::array<std::size_t, 2> dilation{1, 1};
    bool ceil_mode = false;
};

namespace detail {

// The sizes of a pooling, signed, as the window loop computes with them.
struct pool_window_geometry {
    std::ptrdiff_t H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw;
};

// Any window: for each output, the maximum over the rows and columns of its dilated window that lie
// inside the input (padding counts as -inf), its flat index in the input plane beside it unless
// `ip` is null.
template <class T>
void max_pool_windows(const T* xp, T* yp, std::int64_t* ip, std::size_t planes,
                      const pool_window_geometry& g) {
    const auto [H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw] = g;
    for (std::size_t plane = 0; plane < planes; ++plane) {
        const T* in = xp + plane * static_cast<std::size_t>(H * W);
        for (std::ptrdiff_t i = 0; i < Ho; ++i) {
            // Rows of the window inside the input: h0, h0 + dh, ... below h1.
            std::ptrdiff_t h0 = i * sh - ph;
            const std::ptrdiff_t h1 = std::min(h0 + (kh - 1) * dh + 1, H);
            while (h0 < 0) h0 += dh;
            for (std::ptrdiff_t j = 0; j < Wo; ++j) {
                std::ptrdiff_t w0 = j * sw - pw;
                const std::ptrdiff_t w1 = std::min(w0 + (kw - 1) * dw + 1, W);
                while (w0 < 0) w0 += dw;
                T best = -std::numeric_limits<T>::infinity();
                std::ptrdiff_t best_at = h0 * W + w0;
                for (std::ptrdiff_t h = h0; h < h1; h += dh) {
                    const T* row = in + h * W;
                    for (std::ptrdiff_t w = w0; w < w1; w += dw) {
                        const T v = row[w];
                        if (v > best || std::isnan(v)) {
                            best = v;
                            best_at = h * W + w;
                        }
                    }
                }
                *yp++ = best;
                if (ip != nullptr) *ip++ = static_cast<std::int64_t>(best_at);
            }
        }
    }
}

// The common 2x2 window with stride 2, no padding, no dilation and floor mode: every window lies
// inside the input, so the four candidates are compared without bounds, in the window loop's
// order and with its rule (a later value wins when greater or NaN). Same outputs and indices.
inline bool is_plain_2x2(const max_pool2d_options& o, const std::array<std::size_t, 2>& stride) {
    return o.kernel_size == std::array<std::size_t, 2>{2, 2} && stride == std::array<std::size_t, 2>{2, 2} &&
           o.padding == std::array<std::size_t, 2>{0, 0} && o.dilation == std::array<std::size_t, 2>{1, 1} &&
           !o.ceil_mode;
}

template <class T>
void max_pool_2x2(const T* xp, T* yp, std::int64_t* ip, std::size_t planes, std::size_t H, std::size_t W,
                  std::size_t Ho, std::size_t Wo) {
    // Two passes per stretch of a row, so that both vectorize: the maxima with the window position
    // of each (0..3, row-major) as a 32-bit lane beside the value, then the positions as indices.
    constexpr std::size_t stretch = 64;
    std::array<std::int32_t, stretch> which;
    const auto w = static_cast<std::int64_t>(W);
    for (std::size_t plane = 0; plane < planes; ++plane) {
        const T* in = xp + plane * H * W;
        for (std::size_t i = 0; i < Ho; ++i, yp += Wo, ip += Wo) {
            const auto top = static_cast<std::int64_t>(2 * i * W);
            for (std::size_t j0 = 0; j0 < Wo; j0 += stretch) {
                const std::size_t n = std::min(stretch, Wo - j0);
                const T* r0 = in + 2 * i * W + 2 * j0;
                const T* r1 = r0 + W;
                T* y = yp + j0;
                for (std::size_t j = 0; j < n; ++j) {
                    T best = r0[2 * j];
                    std::int32_t at = 0;
                    bool take = r0[2 * j + 1] > best || r0[2 * j + 1] != r0[2 * j + 1];
                    best = take ? r0[2 * j + 1] : best;
                    at = take ? 1 : at;
                    take = r1[2 * j] > best || r1[2 * j] != r1[2 * j];
                    best = take ? r1[2 * j] : best;
                    at = take ? 2 : at;
                    take = r1[2 * j + 1] > best || r1[2 * j + 1] != r1[2 * j + 1];
                    best = take ? r1[2 * j + 1] : best;
                    at = take ? 3 : at;
                    y[j] = best;
                    which[j] = at;
                }
                std::int64_t* idx = ip + j0;
                const std::int64_t first = top + 2 * static_cast<std::int64_t>(j0);
                for (std::size_t j = 0; j < n; ++j)
                    idx[j] = first + 2 * static_cast<std::int64_t>(j) + (which[j] >> 1) * w + (which[j] & 1);
            }
        }
    }
}

// The 2x2 path without indices (inference): the same four candidates in the same order with the
// same rule, so the values are those max_pool_2x2 writes, sign of zero and NaN included.
template <class T>
void max_pool_2x2_values(const T* xp, T* yp, std::size_t planes, std::size_t H, std::size_t W, std::size_t Ho,
                         std::size_t Wo) {
    const auto later = [](T best, T v) { return v > best || v != v ? v : best; };
    for (std::size_t plane = 0; plane < planes; ++plane) {
        const T* in = xp + plane * H * W;
        for (std::size_t i = 0; i < Ho; ++i, yp += Wo) {
            const T* r0 = in + 2 * i * W;
            const T* r1 = r0 + W;
            for (std::size_t j = 0; j < Wo; ++j)
                yp[j] = later(later(later(r0[2 * j], r0[2 * j + 1]), r1[2 * j]), r1[2 * j + 1]);
        }
    }
}

}  // namespace detail

// [N, C, Ho, Wo] for an input of shape `x_shape` (any sequence of sizes, e.g. x.shape()).
template <class S>
std::array<std::size_t, 4> max_pool2d_output_shape(const S& x_shape, const max_pool2d_options& opts = {}) {
    const auto stride = detail::pooling_stride(opts.stride, opts.kernel_size);
    auto out = detail::pooling_input_dims("max_pool2d", x_shape);
    for (std::size_t k = 0; k < 2; ++k)
        out[2 + k] = pool_output_size("max_pool2d", {.input = out[2 + k],
                                                     .kernel = opts.kernel_size[k],
                                                     .stride = stride[k],
                                                     .padding = opts.padding[k],
                                                     .dilation = opts.dilation[k],
                                                     .ceil_mode = opts.ceil_mode});
    return out;
}

// y[n, c, i, j] = max over the dilated window at (i s0 - p0, j s1 - p1); indices as described above.
// `indices` may be `none` when no backward follows (inference): the values are the same and no
// index is computed.
template <class X, class Y, class I>
void max_pool2d_forward(const X& x, Y&& y, I&& indices, const max_pool2d_options& opts = {}) {
    using T = typename std::remove_cvref_t<X>::value_type;
    static_assert(std::is_floating_point_v<T>, "max_pool2d_forward: x must hold float or double");
    static_assert(std::is_same_v<typename std::remove_cvref_t<Y>::value_type, T>,
                  "max_pool2d_forward: y must hold the same scalar type as x");
    constexpr bool with_indices = !is_none_v<I>;
    if constexpr (with_indices)
        static_assert(std::is_same_v<typename std::remove_cvref_t<I>::value_type, std::int64_t>,
                      "max_pool2d_forward: indices must hold std::int64_t");
    constexpr const char* op = "max_pool2d_forward";
    detail::require_pooling_batch(op, "x", x);
    const auto out = max_pool2d_output_shape(x.shape(), opts);
    detail::require_shape(op, "y", y, {out[0], out[1], out[2], out[3]});
    if constexpr (with_indices) detail::require_shape(op, "indices", indices, {out[0], out[1], out[2], out[3]});

    const auto stride = detail::pooling_stride(opts.stride, opts.kernel_size);
    const auto H = static_cast<std::ptrdiff_t>(x.shape()[2]);
    const auto W = static_cast<std::ptrdiff_t>(x.shape()[3]);
    const auto Ho = static_cast<std::ptrdiff_t>(out[2]), Wo = static_cast<std::ptrdiff_t>(out[3]);
    const auto sh = static_cast<std::ptrdiff_t>(stride[0]), sw = static_cast<std::ptrdiff_t>(stride[1]);
    const auto ph = static_cast<std::ptrdiff_t>(opts.padding[0]),
               pw = static_cast<std::ptrdiff_t>(opts.padding[1]);
    const auto dh = static_cast<std::ptrdiff_t>(opts.dilation[0]),
               dw = static_cast<std::ptrdiff_t>(opts.dilation[1]);
    const auto kh = static_cast<std::ptrdiff_t>(opts.kernel_size[0]);
    const auto kw = static_cast<std::ptrdiff_t>(opts.kernel_size[1]);

    const T* xp = detail::data_of(x);
    T* yp = detail::data_of(y);
    const std::size_t planes = out[0] * out[1], plane_in = x.shape()[2] * x.shape()[3],
                      plane_out = out[2] * out[3];
    const bool plain = detail::is_plain_2x2(opts, stride);
    std::int64_t* ip = nullptr;
    if constexpr (with_indices) ip = detail::data_of(indices);
    // Planes are independent: each thread takes a contiguous run of them.
    katachi::detail::parallel_for(
        planes, katachi::detail::parallel_parts(planes, planes * plane_in),
        [&](std::size_t begin, std::size_t end, unsigned) {
            const T* from = xp + begin * plane_in;
            T* to = yp + begin * plane_out;
            const std::size_t count = end - begin;
            std::int64_t* at = with_indices ? ip + begin * plane_out : nullptr;
            if (!plain)
                detail::max_pool_windows(from, to, at, count, {H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw});
            else if (with_indices)
                detail::max_pool_2x2(from, to, at, count, x.shape()[2], x.shape()[3], out[2], out[3]);
            else
                detail::max_pool_2x2_values(from, to, count, x.shape()[2], x.shape()[3], out[2], out[3]);
        });
}

// dx[n, c, indices[n, c, i, j]] += dy[n, c, i, j]; dx (shape of the forward's x) is cleared first
// unless mode is write::accumulate. Passing `none` for dx computes nothing. An index outside the
// input plane throws std::out_of_range, leaving dx partly written.
//
// With `mask` (the shape of dy) a gradient passes only where mask > 0: given the pooled outputs of
// relu(pool(x)) as the mask, this is the backward of max pooling after a relu, relu's backward
// included (the graph face's absorbed_relu).
template <class DY, class I, class DX, class M = none_t>
void max_pool2d_backward(const DY& dy, const I& indices, DX&& dx, write mode = write::overwrite,
                         const M& mask = {}) {
    using T = typename std::remove_cvref_t<DY>::value_type;
    static_assert(std::is_floating_point_v<T>, "max_pool2d_backward: dy must hold float or double");
    static_assert(std::is_same_v<typename std::remove_cvref_t<I>::value_type, std::int64_t>,
                  "max_pool2d_backward: indices must hold std::int64_t");
    constexpr const char* op = "max_pool2d_backward";
    detail::require_pooling_batch(op, "dy", dy);
    detail::require_same_shape(op, "indices", indices, "dy", dy);
    if constexpr (!is_none_v<DX>) {
        static_assert(std::is_same_v<typename std::remove_cvref_t<DX>::value_type, T>,
                      "max_pool2d_backward: dx must hold the same scalar type as dy");
        detail::require_pooling_batch(op, "dx", dx);
        detail::require_same_planes(op, dx, dy);
        const std::size_t plane_in = dx.shape()[2] * dx.shape()[3];
        const std::size_t plane_out = dy.shape()[2] * dy.shape()[3];
        const std::size_t planes = dy.shape()[0] * dy.shape()[1];
        const T* gp0 = detail::data_of(dy);
        const std::int64_t* ip0 = detail::data_of(indices);
        T* dp = detail::data_of(dx);
        const T* mp0 = nullptr;
        if constexpr (!is_none_v<M>) {
            static_assert(std::is_same_v<typename std::remove_cvref_t<M>::value_type, T>,
                          "max_pool2d_backward: the mask must hold the same scalar type as dy");
            detail::require_same_shape(op, "mask", mask, "dy", dy);
            mp0 = detail::data_of(mask);
        }
        // Planes are independent: each thread clears and fills a contiguous run of them, one plane
        // at a time, so the scatter finds the plane it cleared still in cache.
        katachi::detail::parallel_for(
            planes, katachi::detail::parallel_parts(planes, planes * plane_in),
            [&](std::size_t begin, std::size_t end, unsigned) {
                const T* gp = gp0 + begin * plane_out;
                const std::int64_t* ip = ip0 + begin * plane_out;
                const T* mp = mp0 == nullptr ? nullptr : mp0 + begin * plane_out;
                for (std::size_t plane = begin; plane < end; ++plane, gp += plane_out, ip += plane_out) {
                    T* dst = dp + plane * plane_in;
                    if (mode == write::overwrite) std::fill(dst, dst + plane_in, T(0));
                    for (std::size_t k = 0; k < plane_out; ++k) {
                        const std::int64_t at = ip[k];
                        if (at < 0 || static_cast<std::size_t>(at) >= plane_in)
                            throw std::out_of_range(std::string(op) + ": index " + std::to_string(at) +
                                                    " lies outside the input plane of " +
                                                    std::to_string(plane_in) + " elements (dx has shape " +
                                                    detail::shape_text(dx) + ")");
                        if (mp == nullptr || mp[k] > T(0)) dst[at] += gp[k];
                    }
                    if (mp != nullptr) mp += plane_out;
                }
            });
    }
}

}  // namespace katachi::kernels
