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
//
// The pieces: max_pool2d/window.hpp (the options and the loop over any window),
// max_pool2d/plain_2x2.hpp (the 2x2 pooling of stride 2, on AVX2 where it can); here
// max_pool2d_run, which chooses between them over katachi's threads, and the public functions.
#pragma once

#include <katachi/error.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <katachi/kernels/common.hpp>
#include <katachi/kernels/max_pool2d/plain_2x2.hpp>
#include <katachi/kernels/max_pool2d/window.hpp>
#include <katachi/kernels/pool_common.hpp>
#include <katachi/kernels/simd.hpp>
#include <katachi/parallel.hpp>
#include <katachi/shape.hpp>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace katachi::kernels {

namespace detail {

// The forward on pointers, for shapes known to fit: x [N, C, H, W] gives y [N, C, out_h, out_w] and,
// when ip is not null, indices (window positions when I is std::uint8_t, which only the plain 2x2
// pooling keeps). What max_pool2d_forward runs once it has checked its arguments, and what the graph
// face runs directly (its types are the check): nothing here can fail or allocate.
template <class T, class I>
void max_pool2d_run(const T* xp, T* yp, I* ip, const std::array<std::size_t, 4>& x, std::size_t out_h,
                    std::size_t out_w, const max_pool2d_options& opts) {
    constexpr bool positions = is_window_position_v<I>;
    const bool with_indices = ip != nullptr;
    const auto stride = pooling_stride(opts.stride, opts.kernel_size);
    const auto H = static_cast<std::ptrdiff_t>(x[2]);
    const auto W = static_cast<std::ptrdiff_t>(x[3]);
    const auto Ho = static_cast<std::ptrdiff_t>(out_h), Wo = static_cast<std::ptrdiff_t>(out_w);
    const auto sh = static_cast<std::ptrdiff_t>(stride[0]), sw = static_cast<std::ptrdiff_t>(stride[1]);
    const auto ph = static_cast<std::ptrdiff_t>(opts.padding[0]),
               pw = static_cast<std::ptrdiff_t>(opts.padding[1]);
    const auto dh = static_cast<std::ptrdiff_t>(opts.dilation[0]),
               dw = static_cast<std::ptrdiff_t>(opts.dilation[1]);
    const auto kh = static_cast<std::ptrdiff_t>(opts.kernel_size[0]);
    const auto kw = static_cast<std::ptrdiff_t>(opts.kernel_size[1]);
    const std::size_t planes = x[0] * x[1], plane_in = x[2] * x[3], plane_out = out_h * out_w;
    const bool plain = is_plain_2x2(opts, stride);
    // Planes are independent: each thread takes a contiguous run of them.
    katachi::detail::parallel_for(
        planes, katachi::detail::parallel_parts(planes, planes * plane_in),
        [&](std::size_t begin, std::size_t end, unsigned) {
            const T* from = xp + begin * plane_in;
            T* to = yp + begin * plane_out;
            const std::size_t count = end - begin;
            I* at = with_indices ? ip + begin * plane_out : nullptr;
            if (!plain) {
                if constexpr (!positions) max_pool_windows(from, to, at, count, {H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw});
            } else if (with_indices)
                max_pool_2x2(from, to, at, count, x[2], x[3], out_h, out_w);
            else
                max_pool_2x2_values(from, to, count, x[2], x[3], out_h, out_w);
        });
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
// index is computed. For the 2x2 pooling with stride 2 (no padding or dilation, floor mode)
// `indices` may hold std::uint8_t instead: window positions 2 r + s of the maximum at
// (2 i + r, 2 j + s), an eighth of the memory of the flat indices; another window with them throws
// std::invalid_argument.
template <class X, class Y, class I>
void max_pool2d_forward(const X& x, Y&& y, I&& indices, const max_pool2d_options& opts = {}) {
    using T = typename std::remove_cvref_t<X>::value_type;
    static_assert(std::is_floating_point_v<T>, "max_pool2d_forward: x must hold float or double");
    static_assert(std::is_same_v<typename std::remove_cvref_t<Y>::value_type, T>,
                  "max_pool2d_forward: y must hold the same scalar type as x");
    constexpr bool with_indices = !is_none_v<I>;
    using index_type = typename std::conditional_t<with_indices, std::remove_cvref_t<I>,
                                                   std::vector<std::int64_t>>::value_type;
    constexpr bool positions = detail::is_window_position_v<index_type>;
    static_assert(std::is_same_v<index_type, std::int64_t> || positions,
                  "max_pool2d_forward: indices must hold std::int64_t (flat indices) or std::uint8_t (window "
                  "positions of a 2x2 pooling)");
    constexpr const char* op = "max_pool2d_forward";
    detail::require_pooling_batch(op, "x", x);
    const auto out = max_pool2d_output_shape(x.shape(), opts);
    detail::require_shape(op, "y", y, {out[0], out[1], out[2], out[3]});
    if constexpr (with_indices)
        detail::require_shape(op, "indices", indices, {out[0], out[1], out[2], out[3]});

    const auto stride = detail::pooling_stride(opts.stride, opts.kernel_size);
    if (positions && !detail::is_plain_2x2(opts, stride))
        KATACHI_THROW(std::invalid_argument, 
            std::string(op) +
            ": window positions (std::uint8_t indices) are kept only by the 2x2 pooling "
            "with stride 2, no padding, no dilation and floor mode; this one has kernel " +
            std::to_string(opts.kernel_size[0]) + "x" + std::to_string(opts.kernel_size[1]) + ", stride " +
            std::to_string(stride[0]) + "x" + std::to_string(stride[1]) + ": use std::int64_t indices");
    index_type* ip = nullptr;
    if constexpr (with_indices) ip = detail::data_of(indices);
    detail::max_pool2d_run(detail::data_of(x), detail::data_of(y), ip,
                           {x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]}, out[2], out[3], opts);
}

// dx[n, c, indices[n, c, i, j]] += dy[n, c, i, j]; dx (shape of the forward's x) is cleared first
// unless mode is write::accumulate. Passing `none` for dx computes nothing. An index outside the
// input plane throws std::out_of_range, leaving dx partly written.
//
// With window positions (std::uint8_t, from the 2x2 pooling's forward) dx's planes must be those
// the 2x2 pooling of stride 2 reduces to dy's (H / 2 == Ho, W / 2 == Wo), else shape_mismatch; each
// window's four gradients are written at once. A position above 3 throws std::out_of_range.
//
// With `mask` (the shape of dy) a gradient passes only where mask > 0: given the pooled outputs of
// relu(pool(x)) as the mask, this is the backward of max pooling after a relu, relu's backward
// included (the graph face's relu_max_pool2d, graph/fusion.hpp).
template <class DY, class I, class DX, class M = none_t>
void max_pool2d_backward(const DY& dy, const I& indices, DX&& dx, write mode = write::overwrite,
                         const M& mask = {}) {
    using T = typename std::remove_cvref_t<DY>::value_type;
    static_assert(std::is_floating_point_v<T>, "max_pool2d_backward: dy must hold float or double");
    using index_type = typename std::remove_cvref_t<I>::value_type;
    constexpr bool positions = detail::is_window_position_v<index_type>;
    static_assert(
        std::is_same_v<index_type, std::int64_t> || positions,
        "max_pool2d_backward: indices must hold std::int64_t (flat indices) or std::uint8_t (window "
        "positions of a 2x2 pooling)");
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
        const index_type* ip0 = detail::data_of(indices);
        T* dp = detail::data_of(dx);
        const T* mp0 = nullptr;
        if constexpr (!is_none_v<M>) {
            static_assert(std::is_same_v<typename std::remove_cvref_t<M>::value_type, T>,
                          "max_pool2d_backward: the mask must hold the same scalar type as dy");
            detail::require_same_shape(op, "mask", mask, "dy", dy);
            mp0 = detail::data_of(mask);
        }
        if constexpr (positions) {
            const std::size_t H = dx.shape()[2], W = dx.shape()[3], Ho = dy.shape()[2], Wo = dy.shape()[3];
            if (H / 2 != Ho || W / 2 != Wo)
                KATACHI_THROW(shape_mismatch, std::string(op) +
                                     ": window positions come from a 2x2 pooling of stride 2, "
                                     "which makes planes of " +
                                     std::to_string(H / 2) + "x" + std::to_string(W / 2) + " from dx's " +
                                     std::to_string(H) + "x" + std::to_string(W) + ", but dy has " +
                                     std::to_string(Ho) + "x" + std::to_string(Wo) + " (dx " +
                                     detail::shape_text(dx) + ", dy " + detail::shape_text(dy) + ")");
            const unsigned parts = katachi::detail::parallel_parts(planes, planes * plane_in);
            std::array<bool, katachi::detail::max_threads> ok;
            ok.fill(true);
            katachi::detail::parallel_for(
                planes, parts, [&](std::size_t begin, std::size_t end, unsigned part) {
                    const bool fine = detail::max_unpool_2x2(
                        gp0 + begin * plane_out, ip0 + begin * plane_out,
                        mp0 == nullptr ? nullptr : mp0 + begin * plane_out, dp + begin * plane_in,
                        end - begin, H, W, Ho, Wo, mode == write::accumulate);
                    if (!fine) ok[part] = false;
                });
            if (!std::all_of(ok.begin(), ok.end(), [](bool b) { return b; }))
                KATACHI_THROW(std::out_of_range, std::string(op) +
                                        ": a window position above 3 (a 2x2 window has 4) in " +
                                        "indices of shape " + detail::shape_text(indices));
        } else {
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
                                KATACHI_THROW(std::out_of_range, 
                                    std::string(op) + ": index " + std::to_string(at) +
                                    " lies outside the input plane of " + std::to_string(plane_in) +
                                    " elements (dx has shape " + detail::shape_text(dx) + ")");
                            if (mp == nullptr || mp[k] > T(0)) dst[at] += gp[k];
                        }
                        if (mp != nullptr) mp += plane_out;
                    }
                });
        }
    }
}

}  // namespace katachi::kernels
