// katachi/kernels/conv2d.hpp: 2-d convolution (PyTorch's cross-correlation) with stride, padding,
// dilation and groups.
//
// x[N, C, H, W], w[O, C / groups, kh, kw], b[O] or none, y[N, O, Ho, Wo] with Ho, Wo from
// katachi::conv_output_size. Lowered to GEMM per sample and group (im2col.hpp), or per few samples
// when the images are small: the forward is y = w * im2col(x) with the bias written first and the
// GEMM adding onto it; the backward is dw = sum_n dy * im2col(x)^T (db from the same GEMM),
// dx = col2im(w^T * dy).
//
// Three lowered products serve all the convolution kernels:
//   lowered_convolve          columns = w * im2col(image)            conv2d forward, conv_transpose2d dx
//   lowered_convolve_adjoint  image   = col2im(w^T * columns)        conv2d dx, conv_transpose2d forward
//   lowered_weight_grad       dw      = sum_n columns * im2col(image)^T   both kernels' dw
//
// A 3x3 kernel with stride 1, no dilation or groups and padding at most 2 runs on Winograd's
// F(2x2, 3x3) instead (winograd.hpp) when it has the channels and the batch to pay for it
// (winograd_pays): forward, dx and dw as 16 GEMMs over 2x2 output tiles, 2.25 times fewer
// multiplications than the lowering. Its backward in float on AVX-512F sums dw and dx from the
// nonzero entries of dy alone where at most 40% of them are nonzero, as after a relu and a pooling
// (winograd/sparse_backward.hpp).
//
// Scratch: conv2d_workspace_size(...) elements serve both forward and backward. Pass them as
// `workspace` and the kernels allocate nothing; an empty workspace makes the kernel allocate its own
// scratch for the call; a workspace that is too small throws katachi::shape_mismatch.
//
// The pieces: conv2d/lowering.hpp (the im2col lowering), conv2d/geometry.hpp (conv2d_options, the
// checks and the geometry); here the choice between the lowering and Winograd, and the kernels.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <katachi/error.hpp>
#include <span>
#include <string>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/conv2d/geometry.hpp"
#include "katachi/kernels/conv2d/lowering.hpp"
#include "katachi/kernels/im2col.hpp"
#include "katachi/kernels/winograd.hpp"
#include "katachi/kernels/winograd/sparse_backward.hpp"
#include "katachi/parallel.hpp"
#include "katachi/shape.hpp"

namespace katachi::kernels {

namespace detail {

// The shared bodies of the conv1d and conv2d kernels, once the caller has checked the shapes: the
// im2col lowering, or Winograd when the geometry says so (g.winograd; a test may set or clear it
// on a shape that fits, to compare the two paths).
//
// convolve_forward is the forward on pointers, with a workspace of g.workspace_size() elements: what
// the kernel runs once it has checked its arguments, and what the graph face runs directly (its
// types are the check, graph/layers/conv2d.hpp), so that path builds no message and needs no heap.
template <class T>
void convolve_forward(const conv_geometry& g, const T* x, const T* w, const T* bias, T* y, T* ws) {
    if (g.winograd)
        winograd_convolve(g.winograd_sizes(), x, w, false, bias, y, ws, write::overwrite);
    else
        lowered_convolve(g, x, w, bias, y, ws, write::overwrite);
}

template <class T, class X, class W, class B, class Y>
void run_lowered_forward(const char* op, const conv_geometry& g, const X& x, const W& w, const B& b, Y& y,
                         std::span<T> workspace) {
    const T* bias = nullptr;
    if constexpr (!is_none_v<B>) bias = data_of(b);
    const conv_scratch<T> ws(op, workspace, g.workspace_size());
    convolve_forward<T>(g, data_of(x), data_of(w), bias, data_of(y), ws.data());
}

template <class T, class X, class W, class DY, class DX, class DW, class DB>
void run_lowered_backward(const char* op, const conv_geometry& g, const X& x, const W& w, const DY& dy,
                          DX& dx, DW& dw, DB& db, std::span<T> workspace, write mode) {
    constexpr bool needs_scratch = !is_none_v<DX> || !is_none_v<DW>;
    const conv_scratch<T> ws(op, workspace, needs_scratch ? g.workspace_size() : 0);
    const T* dyp = data_of(dy);
    T* db_in_gemm = nullptr;  // db rides along with dw's GEMM (or Winograd's dw) when both are wanted
    if constexpr (!is_none_v<DW> && !is_none_v<DB>) db_in_gemm = g.is_pointwise() ? nullptr : data_of(db);
    if (g.winograd) {
        const winograd_shape s = g.winograd_sizes();
        // An output gradient mostly zeros (a relu's and a pooling's after this convolution): the
        // sums from its nonzero entries (winograd/sparse_backward.hpp), db with them.
        if constexpr (std::is_same_v<T, float> && (!is_none_v<DW> || !is_none_v<DX>))
            if (winograd_sparse_runs<T>(s, dyp, g.workspace_size())) {
                T* dbp = nullptr;
                if constexpr (!is_none_v<DB>) dbp = data_of(db);
                T* dwp = nullptr;
                if constexpr (!is_none_v<DW>) dwp = data_of(dw);
                T* dxp = nullptr;
                if constexpr (!is_none_v<DX>) dxp = data_of(dx);
                winograd_sparse_backward(s, data_of(x), data_of(w), dyp, dwp, dbp, dxp, ws.data(), mode);
                return;
            }
        if constexpr (!is_none_v<DW>)
            winograd_weight_grad(s, data_of(x), dyp, data_of(dw), db_in_gemm, ws.data(), mode);
        if constexpr (!is_none_v<DX>)
            winograd_convolve(s.adjoint(), dyp, data_of(w), true, static_cast<const T*>(nullptr), data_of(dx),
                              ws.data(), mode);
    } else {
        if constexpr (!is_none_v<DW>)
            lowered_weight_grad(g, data_of(x), dyp, data_of(dw), db_in_gemm, ws.data(), mode);
        if constexpr (!is_none_v<DX>)
            lowered_convolve_adjoint(g, dyp, data_of(w), static_cast<const T*>(nullptr), data_of(dx),
                                     ws.data(), mode);
    }
    if constexpr (!is_none_v<DB>)
        if (db_in_gemm == nullptr)
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
