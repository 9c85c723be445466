// katachi/kernels/conv2d.hpp: 2-d convolution (PyTorch's cross-correlation) with stride, padding,
// dilation and groups.
//
// x[N, C, H, W], w[O, C / groups, kh, kw], b[O] or none, y[N, O, Ho, Wo] with Ho, Wo from
// katachi::conv_output_size. Lowered to GEMM per sample and group (im2col.hpp): the forward is
// y = w * im2col(x) with the bias written first and the GEMM adding onto it; the backward is
// dw = sum_n dy * im2col(x)^T, dx = col2im(w^T * dy), db = the per-channel sums of dy.
//
// Scratch: conv2d_workspace_size(...) elements (one group's im2col matrix of one sample; zero for a
// 1x1 stride-1 unpadded kernel) serve both forward and backward. Pass them as `workspace` and the
// kernels allocate nothing; an empty workspace makes the kernel allocate its own scratch for the
// call; a workspace that is too small throws katachi::shape_mismatch.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/im2col.hpp"
#include "katachi/shape.hpp"

namespace katachi::kernels {

struct conv2d_options {
    std::array<std::size_t, 2> stride{1, 1};
    std::array<std::size_t, 2> padding{0, 0};
    std::array<std::size_t, 2> dilation{1, 1};
    std::size_t groups = 1;
};

namespace detail {

// The geometry of a conv2d-shaped operation named `op` on x[N, C, H, W] and w[O, C/g, kh, kw];
// conv1d calls it with H = kh = 1. Throws shape_mismatch or shape_arithmetic_error naming `op`.
inline conv_geometry conv2d_geometry(const char* op, const std::array<std::size_t, 4>& x,
                                     const std::array<std::size_t, 4>& w, const conv2d_options& o,
                                     const std::string& shapes) {
    check_conv_channels(op, x[1], w[0], w[1], o.groups, shapes);
    conv_geometry g;
    g.batch = x[0];
    g.channels = x[1];
    g.height = x[2];
    g.width = x[3];
    g.out_channels = w[0];
    g.kernel_h = w[2];
    g.kernel_w = w[3];
    g.stride_h = o.stride[0];
    g.stride_w = o.stride[1];
    g.pad_h = o.padding[0];
    g.pad_w = o.padding[1];
    g.dilation_h = o.dilation[0];
    g.dilation_w = o.dilation[1];
    g.groups = o.groups;
    g.out_height = conv_output_size(op, {x[2], w[2], o.stride[0], o.padding[0], o.dilation[0]});
    g.out_width = conv_output_size(op, {x[3], w[3], o.stride[1], o.padding[1], o.dilation[1]});
    return g;
}

template <class XS, class WS>
conv_geometry conv2d_geometry_of(const XS& x_shape, const WS& w_shape, const conv2d_options& opts) {
    const std::string shapes = "x " + extents_text(x_shape) + ", w " + extents_text(w_shape);
    if (x_shape.size() != 4)
        throw shape_mismatch("conv2d: x has shape " + extents_text(x_shape) +
                             ", expected rank 4 [N, C, H, W]");
    if (w_shape.size() != 4)
        throw shape_mismatch("conv2d: w has shape " + extents_text(w_shape) +
                             ", expected rank 4 [out_channels, in_channels / groups, kh, kw]");
    return conv2d_geometry("conv2d", {x_shape[0], x_shape[1], x_shape[2], x_shape[3]},
                           {w_shape[0], w_shape[1], w_shape[2], w_shape[3]}, opts, shapes);
}

// The shared bodies of the conv1d and conv2d kernels, once the caller has checked the shapes.
template <class T, class X, class W, class B, class Y>
void run_lowered_forward(const char* op, const conv_geometry& g, const X& x, const W& w, const B& b, Y& y,
                         std::span<T> workspace) {
    const T* bias = nullptr;
    if constexpr (!is_none_v<B>) bias = data_of(b);
    const conv_scratch<T> ws(op, workspace, g.workspace_size());
    lowered_convolve(g, data_of(x), data_of(w), bias, data_of(y), ws.data(), write::overwrite);
}

template <class T, class X, class W, class DY, class DX, class DW, class DB>
void run_lowered_backward(const char* op, const conv_geometry& g, const X& x, const W& w, const DY& dy,
                          DX& dx, DW& dw, DB& db, std::span<T> workspace, write mode) {
    constexpr bool needs_scratch = !is_none_v<DX> || !is_none_v<DW>;
    const conv_scratch<T> ws(op, workspace, needs_scratch ? g.workspace_size() : 0);
    const T* dyp = data_of(dy);
    if constexpr (!is_none_v<DW>) lowered_weight_grad(g, data_of(x), dyp, data_of(dw), ws.data(), mode);
    if constexpr (!is_none_v<DX>)
        lowered_convolve_adjoint(g, dyp, data_of(w), static_cast<const T*>(nullptr), data_of(dx), ws.data(),
                                 mode);
    if constexpr (!is_none_v<DB>)
        channel_sums(dyp, data_of(db), g.batch, g.out_channels, g.positions(), mode);
}

}  // namespace detail

// [N, O, Ho, Wo] for x.shape() and w.shape(); throws like the kernels do.
template <class XS, class WS>
std::array<std::size_t, 4> conv2d_output_shape(const XS& x_shape, const WS& w_shape,
                                               const conv2d_options& opts = {}) {
    const detail::conv_geometry g = detail::conv2d_geometry_of(x_shape, w_shape, opts);
    return {g.batch, g.out_channels, g.out_height, g.out_width};
}

// Elements of scratch that conv2d_forward and conv2d_backward need for these shapes.
template <class XS, class WS>
std::size_t conv2d_workspace_size(const XS& x_shape, const WS& w_shape, const conv2d_options& opts = {}) {
    return detail::conv2d_geometry_of(x_shape, w_shape, opts).workspace_size();
}

template <tensor_like X, tensor_like W, class B, tensor_like Y>
void conv2d_forward(const X& x, const W& w, const B& b, Y&& y, const conv2d_options& opts = {},
                    std::span<detail::scalar_t<X>> workspace = {}) {
    using T = detail::scalar_t<X>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "conv2d: the scalar must be float or double");
    static_assert(detail::scalar_fits<T, W>() && detail::scalar_fits<T, B>() && detail::scalar_fits<T, Y>(),
                  "conv2d: x, w, b and y must hold the same scalar type");
    static_assert(detail::writable<Y>(), "conv2d: y must be writable (not const)");
    detail::require_rank("conv2d", "x", x, 4);
    detail::require_rank("conv2d", "w", w, 4);
    const detail::conv_geometry g = detail::conv2d_geometry_of(x.shape(), w.shape(), opts);
    if constexpr (!is_none_v<B>) detail::require_shape("conv2d", "b", b, {g.out_channels});
    detail::require_shape("conv2d", "y", y, {g.batch, g.out_channels, g.out_height, g.out_width});
    detail::run_lowered_forward("conv2d", g, x, w, b, y, workspace);
}

// Gradients of conv2d_forward for the cotangent dy[N, O, Ho, Wo]. Each of dx, dw, db may be `none`.
template <tensor_like X, tensor_like W, tensor_like DY, class DX, class DW, class DB>
void conv2d_backward(const X& x, const W& w, const DY& dy, DX&& dx, DW&& dw, DB&& db,
                     const conv2d_options& opts = {}, std::span<detail::scalar_t<X>> workspace = {},
                     write mode = write::overwrite) {
    using T = detail::scalar_t<X>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "conv2d: the scalar must be float or double");
    static_assert(detail::scalar_fits<T, W>() && detail::scalar_fits<T, DY>() &&
                      detail::scalar_fits<T, DX>() && detail::scalar_fits<T, DW>() &&
                      detail::scalar_fits<T, DB>(),
                  "conv2d: x, w, dy and the gradients must hold the same scalar type");
    static_assert(detail::writable<DX>() && detail::writable<DW>() && detail::writable<DB>(),
                  "conv2d: dx, dw and db must each be writable (not const) or none");
    detail::require_rank("conv2d", "x", x, 4);
    detail::require_rank("conv2d", "w", w, 4);
    const detail::conv_geometry g = detail::conv2d_geometry_of(x.shape(), w.shape(), opts);
    detail::require_shape("conv2d", "dy", dy, {g.batch, g.out_channels, g.out_height, g.out_width});
    if constexpr (!is_none_v<DX>)
        detail::require_shape("conv2d", "dx", dx, {g.batch, g.channels, g.height, g.width});
    if constexpr (!is_none_v<DW>)
        detail::require_shape("conv2d", "dw", dw,
                              {g.out_channels, g.group_channels(), g.kernel_h, g.kernel_w});
    if constexpr (!is_none_v<DB>) detail::require_shape("conv2d", "db", db, {g.out_channels});
    detail::run_lowered_backward("conv2d", g, x, w, dy, dx, dw, db, workspace, mode);
}

}  // namespace katachi::kernels
