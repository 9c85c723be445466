// katachi/kernels/conv1d.hpp: 1-d convolution with stride, padding, dilation and groups.
//
// x[N, C, L], w[O, C / groups, k], b[O] or none, y[N, O, Lo] with Lo from katachi::conv_output_size.
// A 1-d convolution is a 2-d one of height 1: these kernels check their 3-d shapes and run conv2d's
// lowered products (im2col.hpp) on that geometry. The workspace rules are conv2d's.
#pragma once

#include <katachi/error.hpp>
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/conv2d.hpp"
#include "katachi/kernels/im2col.hpp"

namespace katachi::kernels {

struct conv1d_options {
    std::size_t stride = 1;
    std::size_t padding = 0;
    std::size_t dilation = 1;
    std::size_t groups = 1;
};

namespace detail {

template <class XS, class WS>
conv_geometry conv1d_geometry_of(const XS& x_shape, const WS& w_shape, const conv1d_options& o) {
    const auto shapes = [&] { return "x " + extents_text(x_shape) + ", w " + extents_text(w_shape); };
    if (x_shape.size() != 3)
        KATACHI_THROW(shape_mismatch, "conv1d: x has shape " + extents_text(x_shape) + ", expected rank 3 [N, C, L]");
    if (w_shape.size() != 3)
        KATACHI_THROW(shape_mismatch, "conv1d: w has shape " + extents_text(w_shape) +
                             ", expected rank 3 [out_channels, in_channels / groups, k]");
    const conv2d_options as_2d{
        .stride = {1, o.stride}, .padding = {0, o.padding}, .dilation = {1, o.dilation}, .groups = o.groups};
    return conv2d_geometry("conv1d", {x_shape[0], x_shape[1], 1, x_shape[2]},
                           {w_shape[0], w_shape[1], 1, w_shape[2]}, as_2d, shapes);
}

}  // namespace detail

// [N, O, Lo] for x.shape() and w.shape(); throws like the kernels do.
template <class XS, class WS>
std::array<std::size_t, 3> conv1d_output_shape(const XS& x_shape, const WS& w_shape,
                                               const conv1d_options& opts = {}) {
    const detail::conv_geometry g = detail::conv1d_geometry_of(x_shape, w_shape, opts);
    return {g.batch, g.out_channels, g.out_width};
}

// Elements of scratch that conv1d_forward and conv1d_backward need for these shapes.
template <class XS, class WS>
std::size_t conv1d_workspace_size(const XS& x_shape, const WS& w_shape, const conv1d_options& opts = {}) {
    return detail::conv1d_geometry_of(x_shape, w_shape, opts).workspace_size();
}

template <tensor_like X, tensor_like W, class B, tensor_like Y>
void conv1d_forward(const X& x, const W& w, const B& b, Y&& y, const conv1d_options& opts = {},
                    std::span<detail::scalar_t<X>> workspace = {}) {
    using T = detail::scalar_t<X>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "conv1d: the scalar must be float or double");
    static_assert(detail::scalar_fits<T, W>() && detail::scalar_fits<T, B>() && detail::scalar_fits<T, Y>(),
                  "conv1d: x, w, b and y must hold the same scalar type");
    static_assert(detail::writable<Y>(), "conv1d: y must be writable (not const)");
    detail::require_rank("conv1d", "x", x, 3);
    detail::require_rank("conv1d", "w", w, 3);
    const detail::conv_geometry g = detail::conv1d_geometry_of(x.shape(), w.shape(), opts);
    if constexpr (!is_none_v<B>) detail::require_shape("conv1d", "b", b, {g.out_channels});
    detail::require_shape("conv1d", "y", y, {g.batch, g.out_channels, g.out_width});
    detail::run_lowered_forward("conv1d", g, x, w, b, y, workspace);
}

// Gradients of conv1d_forward for the cotangent dy[N, O, Lo]. Each of dx, dw, db may be `none`.
template <tensor_like X, tensor_like W, tensor_like DY, class DX, class DW, class DB>
void conv1d_backward(const X& x, const W& w, const DY& dy, DX&& dx, DW&& dw, DB&& db,
                     const conv1d_options& opts = {}, std::span<detail::scalar_t<X>> workspace = {},
                     write mode = write::overwrite) {
    using T = detail::scalar_t<X>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "conv1d: the scalar must be float or double");
    static_assert(detail::scalar_fits<T, W>() && detail::scalar_fits<T, DY>() &&
                      detail::scalar_fits<T, DX>() && detail::scalar_fits<T, DW>() &&
                      detail::scalar_fits<T, DB>(),
                  "conv1d: x, w, dy and the gradients must hold the same scalar type");
    static_assert(detail::writable<DX>() && detail::writable<DW>() && detail::writable<DB>(),
                  "conv1d: dx, dw and db must each be writable (not const) or none");
    detail::require_rank("conv1d", "x", x, 3);
    detail::require_rank("conv1d", "w", w, 3);
    const detail::conv_geometry g = detail::conv1d_geometry_of(x.shape(), w.shape(), opts);
    detail::require_shape("conv1d", "dy", dy, {g.batch, g.out_channels, g.out_width});
    if constexpr (!is_none_v<DX>) detail::require_shape("conv1d", "dx", dx, {g.batch, g.channels, g.width});
    if constexpr (!is_none_v<DW>)
        detail::require_shape("conv1d", "dw", dw, {g.out_channels, g.group_channels(), g.kernel_w});
    if constexpr (!is_none_v<DB>) detail::require_shape("conv1d", "db", db, {g.out_channels});
    detail::run_lowered_backward("conv1d", g, x, w, dy, dx, dw, db, workspace, mode);
}

}  // namespace katachi::kernels
