// katachi/ops/conv2d.hpp: 2-d convolution (torch.nn.Conv2d), defined once for both faces.
//
// Per sample [C, H, W] -> [out_channels, Ho, Wo], each output size
// floor((in + 2 padding - dilation (kernel - 1) - 1) / stride) + 1. weight
// [out_channels, C / groups, kh, kw] and bias [out_channels], both uniform in +-1 / sqrt(fan_in),
// fan_in = C / groups kh kw (PyTorch's kaiming_uniform with a = sqrt(5), and its bias bound).
// in_channels = 0 means deduced from the input (graph face, lazy_conv2d). The kernels pad with
// zeros only: another padding_mode is refused by the shape rule.
#pragma once

#include <algorithm>
#include <cmath>
#include <katachi/kernels/conv2d.hpp>
#include <katachi/kernels/tensor_view.hpp>
#include <katachi/ops/op.hpp>
#include <katachi/ops/pooling.hpp>

namespace katachi::ops {

namespace detail {

// A bound of the im2col path's scratch for a batch (kernels/conv2d): the im2col matrix of at most
// max(positions, 256) columns with a row to spare, their gathered columns when samples share a
// product, and a weight-sized block. The kernel checks the span it is given, so a bound that fell
// short would throw, not overrun; test_graph_runtime runs every layer at several batch sizes.
constexpr std::size_t lowered_workspace_bound(std::size_t patch, std::size_t group_out,
                                              std::size_t out_channels, std::size_t positions,
                                              std::size_t batch, bool pointwise) {
    if (pointwise || positions == 0) return 0;
    const std::size_t per_gemm = positions >= 256 ? 1 : std::min<std::size_t>(256 / positions, batch);
    const std::size_t width = (per_gemm == 0 ? 1 : per_gemm) * positions;
    return (patch + 1) * width + (per_gemm > 1 ? group_out * width : 0) + out_channels * (patch + 1);
}

// "<what> in <dimension> (input .., kernel .., ...)" for a convolution's size rule.
constexpr text conv_size_sentence(const size_result& r, const char* dimension, std::size_t input,
                                  std::size_t kernel, std::size_t stride, std::size_t padding,
                                  std::size_t dilation) {
    text t;
    t << (r.ok() ? "the output would be empty" : describe(r.error)) << " in " << dimension << " (input "
      << input << ", kernel " << kernel << ", stride " << stride << ", padding " << padding << ", dilation "
      << dilation << ")";
    if (r.error == size_error::kernel_larger_than_input)
        t << ": use a smaller kernel or more padding, or remove a pooling layer before it";
    return t;
}

// The channel checks every convolution makes: padding_mode, in_channels (when given) and groups;
// an empty text when they pass.
constexpr text channel_sentence(const dims& in, std::size_t in_channels, std::size_t out_channels,
                                std::size_t groups, padding_mode mode) {
    if (mode != padding_mode::zeros)
        return text() << "padding_mode '" << name_of(mode)
                      << "' is not supported: the kernels pad with zeros (padding_mode 'zeros')";
    if (in_channels != 0 && in[0] != in_channels)
        return text() << "has in_channels " << in_channels << " but its input has " << in[0]
                      << " channels (per-sample shape " << in << ")";
    if (groups == 0 || in[0] % groups != 0 || out_channels % groups != 0)
        return text() << "needs in_channels " << in[0] << " and out_channels " << out_channels
                      << " divisible by groups " << groups << ": choose groups dividing both";
    return {};
}

}  // namespace detail

struct conv2d_options {
    std::size_t in_channels = 0;  // 0: deduced from the input (graph face, lazy_conv2d)
    std::size_t out_channels = 0;
    size2 kernel_size = 1;
    size2 stride = 1;
    size2 padding = 0;
    size2 dilation = 1;
    std::size_t groups = 1;
    bool bias = true;
    ops::padding_mode padding_mode = ops::padding_mode::zeros;
};

struct conv2d : op_defaults {
    using options_type = conv2d_options;
    static constexpr const char* name = "conv2d";

    static constexpr text spelling(const conv2d_options& o) {
        text t;
        t << "conv2d<" << o.out_channels << ", " << o.kernel_size.h;
        if (o.kernel_size.w != o.kernel_size.h) t << ", " << o.kernel_size.w;
        detail::spell_pair(t, "stride", o.stride, 1);
        detail::spell_pair(t, "padding", o.padding, 0);
        detail::spell_pair(t, "dilation", o.dilation, 1);
        if (o.groups != 1) t << ", groups<" << o.groups << '>';
        if (!o.bias) t << ", bias<false>";
        if (o.padding_mode != padding_mode::zeros) t << ", padding_mode " << name_of(o.padding_mode);
        return t << '>';
    }

    static constexpr rule output_shape(const conv2d_options& o, const dims& in) {
        if (in.rank != 3)
            return text() << "takes a per-sample [C, H, W], got " << in
                          << ": remove the flatten before it, or use a layer for this rank";
        if (const text why =
                detail::channel_sentence(in, o.in_channels, o.out_channels, o.groups, o.padding_mode);
            !why.empty())
            return why;
        dims out{o.out_channels, 0, 0};
        for (std::size_t i = 0; i < 2; ++i) {
            const size_result r = conv_output({.input = in[1 + i],
                                               .kernel = o.kernel_size[i],
                                               .stride = o.stride[i],
                                               .padding = o.padding[i],
                                               .dilation = o.dilation[i]});
            if (!r.ok() || r.value == 0)
                return detail::conv_size_sentence(r, i == 0 ? "height" : "width", in[1 + i], o.kernel_size[i],
                                                  o.stride[i], o.padding[i], o.dilation[i]);
            out[1 + i] = r.value;
        }
        return out;
    }

    static constexpr conv2d_options bound(conv2d_options o, const dims& in) {
        o.in_channels = in[0];
        return o;
    }

    static constexpr std::array<std::size_t, 4> weight_dims(const conv2d_options& o) {
        return {o.out_channels, o.in_channels / o.groups, o.kernel_size.h, o.kernel_size.w};
    }
    static constexpr tensor_specs parameters(const conv2d_options& o) {
        tensor_specs p{{"weight", 4, weight_dims(o)}};
        if (o.bias) p.add({"bias", 1, {o.out_channels}});
        return p;
    }

    template <class T>
    static void reset(const conv2d_options& o, const std::array<T*, 4>& p, const std::array<T*, 4>&,
                      generator& gen) {
        const auto w = weight_dims(o);
        uniform_weight_and_bias(p[0], w[0] * w[1] * w[2] * w[3], p[1], o.out_channels, w[1] * w[2] * w[3],
                                gen);
    }

    static constexpr kernels::conv2d_options kernel_options(const conv2d_options& o) {
        return {.stride = o.stride.array(),
                .padding = o.padding.array(),
                .dilation = o.dilation.array(),
                .groups = o.groups};
    }

    // Scratch for a batch: Winograd's when the kernel takes that path (the kernel's own rule and
    // size), else detail::lowered_workspace_bound.
    // Whether the kernel may take its Winograd path for these options (it does when it also pays).
    static constexpr bool winograd_applies(const conv2d_options& o) {
        return kernels::detail::winograd_applies(o.kernel_size.h, o.kernel_size.w, o.stride.h, o.stride.w,
                                                 o.dilation.h, o.dilation.w, o.groups, o.padding.h,
                                                 o.padding.w);
    }

    static constexpr std::size_t workspace_size(const conv2d_options& o, const dims& in, std::size_t batch) {
        const dims out = output_shape(o, in).out;
        const kernels::detail::winograd_shape s{.batch = batch,
                                                .channels = in[0],
                                                .height = in[1],
                                                .width = in[2],
                                                .out_channels = o.out_channels,
                                                .out_height = out[1],
                                                .out_width = out[2],
                                                .pad_h = o.padding.h,
                                                .pad_w = o.padding.w};
        if (winograd_applies(o) && kernels::detail::winograd_pays(s))
            return kernels::detail::winograd_workspace_size(s);
        const bool pointwise = o.kernel_size == size2(1) && o.stride == size2(1) && o.padding == size2(0);
        return detail::lowered_workspace_bound(in[0] / o.groups * o.kernel_size.h * o.kernel_size.w,
                                               o.out_channels / o.groups, o.out_channels, out[1] * out[2],
                                               batch, pointwise);
    }

    // The kernel's geometry for a batch, without the kernel's checks: the shape rule made them.
    static kernels::detail::conv_geometry geometry(const conv2d_options& o, const dims& in,
                                                   std::size_t batch) {
        const dims out = output_shape(o, in).out;
        return kernels::detail::conv2d_geometry_unchecked({batch, in[0], in[1], in[2]}, weight_dims(o),
                                                          kernel_options(o), out[1], out[2]);
    }

    template <class T>
    static void forward(const conv2d_options& o, const dims& in, const call<T>& c);

    template <class T>
    static void backward(const conv2d_options& o, const dims& in, const call<T>& c);
};

// Defined after the struct (not inline), so that the float and double instances declared extern
// under KATACHI_EXTERN_KERNELS (katachi/instances.hpp) are not compiled in each file.
template <class T>
void conv2d::forward(const conv2d_options& o, const dims& in, const call<T>& c) {
    kernels::detail::convolve_forward<T>(geometry(o, in, c.batch), c.x[0], c.params[0], c.params[1], c.y,
                                         c.workspace);
}

template <class T>
void conv2d::backward(const conv2d_options& o, const dims& in, const call<T>& c) {
    using kernels::tensor_view;
    const auto g = geometry(o, in, c.batch);
    const std::span<T> ws(c.workspace, workspace_size(o, in, c.batch));
    const std::array<std::size_t, 4> xs{c.batch, in[0], in[1], in[2]},
        ys{c.batch, g.out_channels, g.out_height, g.out_width};
    const tensor_view<const T, 4> x(c.x[0], xs), w(c.params[0], weight_dims(o)), dy(c.dy, ys);
    auto none = kernels::none;
    with_param_grads(
        c, [&] { return tensor_view<T, 4>(c.dparams[0], weight_dims(o)); },
        [&] { return tensor_view<T, 1>(c.dparams[1], {o.out_channels}); },
        [&](auto dw, auto db) {
            kernels::detail::run_lowered_backward<T>("conv2d", g, x, w, dy, none, dw, db, ws, c.dparams_mode);
        });
    if (c.dx[0]) {
        tensor_view<T, 4> dx(c.dx[0], xs);
        kernels::detail::run_lowered_backward<T>("conv2d", g, x, w, dy, dx, none, none, ws, c.dx_mode[0]);
    }
}

}  // namespace katachi::ops
