// katachi/kernels/conv_transpose2d.hpp: 2-d transposed convolution (the adjoint of conv2d) with
// stride, padding, output_padding, dilation and groups.
//
// x[N, Cin, H, W], w[Cin, Cout / groups, kh, kw] (PyTorch's layout), b[Cout] or none,
// y[N, Cout, Ho, Wo] with Ho, Wo from katachi::conv_transpose_output_size.
//
// The operation is conv2d's input gradient: seen as a conv2d from y's shape to x's shape with weight
// w, the forward is y = col2im(w^T * x) (+ b), and the backward runs that conv2d forwards:
// dx = w * im2col(dy), dw = sum_n x * im2col(dy)^T, db = the per-channel sums of dy. The lowered
// products are conv2d's (conv2d.hpp); the workspace rules are conv2d's.
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
#include "katachi/shape.hpp"

namespace katachi::kernels {

struct conv_transpose2d_options {
    std::array<std::size_t, 2> stride{1, 1};
    std::array<std::size_t, 2> padding{0, 0};
    std::array<std::size_t, 2> output_padding{0, 0};
    std::array<std::size_t, 2> dilation{1, 1};
    std::size_t groups = 1;
};

namespace detail {

// katachi::conv_transpose_output_size without building its message unless it throws.
inline std::size_t conv_transpose_size(conv_transpose_dim d) {
    const size_result r = conv_transpose_output(d);
    return r.ok() ? r.value : conv_transpose_output_size("conv_transpose2d", d);
}

// The geometry of the conv2d whose adjoint this is: image side y[N, Cout, Ho, Wo], column side x.
template <class XS, class WS>
conv_geometry conv_transpose2d_geometry_of(const XS& x, const WS& w, const conv_transpose2d_options& o) {
    // The message is built only when a rule is broken: a valid call allocates nothing.
    const auto fail = [&](const std::string& rule) {
        KATACHI_THROW(shape_mismatch, "conv_transpose2d: " + rule + " (x " + extents_text(x) + ", w " +
                             extents_text(w) + ")");
    };
    if (x.size() != 4) fail("x has shape " + extents_text(x) + ", expected rank 4 [N, C, H, W]");
    if (w.size() != 4)
        fail("w has shape " + extents_text(w) +
             ", expected rank 4 [in_channels, out_channels / groups, kh, kw]");
    if (o.groups == 0) fail("groups must be at least 1");
    if (x[1] % o.groups != 0)
        fail("input channels " + std::to_string(x[1]) + " are not divisible by groups " +
             std::to_string(o.groups));
    if (w[0] != x[1])
        fail("the weight has " + std::to_string(w[0]) + " input channels, x has " + std::to_string(x[1]));
    conv_geometry g;
    g.batch = x[0];
    g.out_channels = x[1];
    g.out_height = x[2];
    g.out_width = x[3];
    g.channels = w[1] * o.groups;
    g.kernel_h = w[2];
    g.kernel_w = w[3];
    g.stride_h = o.stride[0];
    g.stride_w = o.stride[1];
    g.pad_h = o.padding[0];
    g.pad_w = o.padding[1];
    g.dilation_h = o.dilation[0];
    g.dilation_w = o.dilation[1];
    g.groups = o.groups;
    g.height =
        conv_transpose_size({x[2], w[2], o.stride[0], o.padding[0], o.output_padding[0], o.dilation[0]});
    g.width =
        conv_transpose_size({x[3], w[3], o.stride[1], o.padding[1], o.output_padding[1], o.dilation[1]});
    return g;
}

}  // namespace detail

// [N, Cout, Ho, Wo] for x.shape() and w.shape(); throws like the kernels do.
template <class XS, class WS>
std::array<std::size_t, 4> conv_transpose2d_output_shape(const XS& x_shape, const WS& w_shape,
                                                         const conv_transpose2d_options& opts = {}) {
    const detail::conv_geometry g = detail::conv_transpose2d_geometry_of(x_shape, w_shape, opts);
    return {g.batch, g.channels, g.height, g.width};
}

// Elements of scratch that conv_transpose2d_forward and conv_transpose2d_backward need.
template <class XS, class WS>
std::size_t conv_transpose2d_workspace_size(const XS& x_shape, const WS& w_shape,
                                            const conv_transpose2d_options& opts = {}) {
    return detail::conv_transpose2d_geometry_of(x_shape, w_shape, opts).workspace_size();
}

template <tensor_like X, tensor_like W, class B, tensor_like Y>
void conv_transpose2d_forward(const X& x, const W& w, const B& b, Y&& y,
                              const conv_transpose2d_options& opts = {},
                              std::span<detail::scalar_t<X>> workspace = {}) {
    using T = detail::scalar_t<X>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "conv_transpose2d: the scalar must be float or double");
    static_assert(detail::scalar_fits<T, W>() && detail::scalar_fits<T, B>() && detail::scalar_fits<T, Y>(),
                  "conv_transpose2d: x, w, b and y must hold the same scalar type");
    static_assert(detail::writable<Y>(), "conv_transpose2d: y must be writable (not const)");
    detail::require_rank("conv_transpose2d", "x", x, 4);
    detail::require_rank("conv_transpose2d", "w", w, 4);
    const detail::conv_geometry g = detail::conv_transpose2d_geometry_of(x.shape(), w.shape(), opts);
    const T* bias = nullptr;
    if constexpr (!is_none_v<B>) {
        detail::require_shape("conv_transpose2d", "b", b, {g.channels});
        bias = detail::data_of(b);
    }
    detail::require_shape("conv_transpose2d", "y", y, {g.batch, g.channels, g.height, g.width});
    const detail::conv_scratch<T> ws("conv_transpose2d", workspace, g.workspace_size());
    detail::lowered_convolve_adjoint(g, detail::data_of(x), detail::data_of(w), bias, detail::data_of(y),
                                     ws.data(), write::overwrite);
}

// Gradients of conv_transpose2d_forward for the cotangent dy[N, Cout, Ho, Wo]. Each of dx, dw, db may
// be `none`.
template <tensor_like X, tensor_like W, tensor_like DY, class DX, class DW, class DB>
void conv_transpose2d_backward(const X& x, const W& w, const DY& dy, DX&& dx, DW&& dw, DB&& db,
                               const conv_transpose2d_options& opts = {},
                               std::span<detail::scalar_t<X>> workspace = {}, write mode = write::overwrite) {
    using T = detail::scalar_t<X>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "conv_transpose2d: the scalar must be float or double");
    static_assert(detail::scalar_fits<T, W>() && detail::scalar_fits<T, DY>() &&
                      detail::scalar_fits<T, DX>() && detail::scalar_fits<T, DW>() &&
                      detail::scalar_fits<T, DB>(),
                  "conv_transpose2d: x, w, dy and the gradients must hold the same scalar type");
    static_assert(detail::writable<DX>() && detail::writable<DW>() && detail::writable<DB>(),
                  "conv_transpose2d: dx, dw and db must each be writable (not const) or none");
    detail::require_rank("conv_transpose2d", "x", x, 4);
    detail::require_rank("conv_transpose2d", "w", w, 4);
    const detail::conv_geometry g = detail::conv_transpose2d_geometry_of(x.shape(), w.shape(), opts);
    detail::require_shape("conv_transpose2d", "dy", dy, {g.batch, g.channels, g.height, g.width});
    if constexpr (!is_none_v<DX>)
        detail::require_shape("conv_transpose2d", "dx", dx,
                              {g.batch, g.out_channels, g.out_height, g.out_width});
    if constexpr (!is_none_v<DW>)
        detail::require_shape("conv_transpose2d", "dw", dw,
                              {g.out_channels, g.group_channels(), g.kernel_h, g.kernel_w});
    if constexpr (!is_none_v<DB>) detail::require_shape("conv_transpose2d", "db", db, {g.channels});

    constexpr bool needs_scratch = !is_none_v<DX> || !is_none_v<DW>;
    const detail::conv_scratch<T> ws("conv_transpose2d", workspace, needs_scratch ? g.workspace_size() : 0);
    const T* dyp = detail::data_of(dy);
    if constexpr (!is_none_v<DW>)
        detail::lowered_weight_grad(g, dyp, detail::data_of(x), detail::data_of(dw), static_cast<T*>(nullptr),
                                    ws.data(), mode);
    if constexpr (!is_none_v<DX>)
        detail::lowered_convolve(g, dyp, detail::data_of(w), static_cast<const T*>(nullptr),
                                 detail::data_of(dx), ws.data(), mode);
    if constexpr (!is_none_v<DB>)
        detail::channel_sums(dyp, detail::data_of(db), g.batch, g.channels, g.height * g.width, mode);
}

}  // namespace katachi::kernels
