// katachi/ops/conv_transpose2d.hpp: 2-d transposed convolution (torch.nn.ConvTranspose2d), defined
// once for both faces.
//
// Per sample [C, H, W] -> [out_channels, Ho, Wo], each output size
// (in - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1. weight
// [C, out_channels / groups, kh, kw] and bias [out_channels], both uniform in +-1 / sqrt(fan_in)
// with fan_in = out_channels / groups kh kw (PyTorch takes fan_in from the weight's second
// dimension). in_channels = 0 means deduced from the input. Zero padding only.
#pragma once

#include <cmath>
#include <katachi/kernels/conv_transpose2d.hpp>
#include <katachi/kernels/tensor_view.hpp>
#include <katachi/ops/conv2d.hpp>
#include <katachi/ops/op.hpp>
#include <katachi/ops/pooling.hpp>

namespace katachi::ops {

struct conv_transpose2d_options {
    std::size_t in_channels = 0;  // 0: deduced from the input (graph face, lazy_conv_transpose2d)
    std::size_t out_channels = 0;
    size2 kernel_size = 1;
    size2 stride = 1;
    size2 padding = 0;
    size2 output_padding = 0;
    size2 dilation = 1;
    std::size_t groups = 1;
    bool bias = true;
    ops::padding_mode padding_mode = ops::padding_mode::zeros;
};

struct conv_transpose2d : op_defaults {
    using options_type = conv_transpose2d_options;
    static constexpr const char* name = "conv_transpose2d";

    static constexpr text spelling(const conv_transpose2d_options& o) {
        text t;
        t << "conv_transpose2d<" << o.out_channels << ", " << o.kernel_size.h;
        if (o.kernel_size.w != o.kernel_size.h) t << ", " << o.kernel_size.w;
        detail::spell_pair(t, "stride", o.stride, 1);
        detail::spell_pair(t, "padding", o.padding, 0);
        detail::spell_pair(t, "output_padding", o.output_padding, 0);
        detail::spell_pair(t, "dilation", o.dilation, 1);
        if (o.groups != 1) t << ", groups<" << o.groups << '>';
        if (!o.bias) t << ", bias<false>";
        return t << '>';
    }

    static constexpr rule output_shape(const conv_transpose2d_options& o, const dims& in) {
        if (in.rank != 3)
            return text() << "takes a per-sample [C, H, W], got " << in
                          << ": remove the flatten before it, or use a layer for this rank";
        if (const text why = detail::channel_sentence(in, o.in_channels, o.out_channels, o.groups, o.padding_mode);
            !why.empty())
            return why;
        dims out{o.out_channels, 0, 0};
        for (std::size_t i = 0; i < 2; ++i) {
            const size_result r = conv_transpose_output({.input = in[1 + i],
                                                         .kernel = o.kernel_size[i],
                                                         .stride = o.stride[i],
                                                         .padding = o.padding[i],
                                                         .output_padding = o.output_padding[i],
                                                         .dilation = o.dilation[i]});
            if (!r.ok() || r.value == 0)
                return text() << (r.ok() ? "the output would be empty" : describe(r.error)) << " in "
                              << (i == 0 ? "height" : "width") << " (input " << in[1 + i] << ", kernel "
                              << o.kernel_size[i] << ", stride " << o.stride[i] << ", padding " << o.padding[i]
                              << ", output_padding " << o.output_padding[i] << ", dilation " << o.dilation[i] << ")";
            out[1 + i] = r.value;
        }
        return out;
    }

    static constexpr conv_transpose2d_options bound(conv_transpose2d_options o, const dims& in) {
        o.in_channels = in[0];
        return o;
    }
    static constexpr std::array<std::size_t, 4> weight_dims(const conv_transpose2d_options& o) {
        return {o.in_channels, o.out_channels / o.groups, o.kernel_size.h, o.kernel_size.w};
    }
    static constexpr tensor_specs parameters(const conv_transpose2d_options& o) {
        tensor_specs p{{"weight", 4, weight_dims(o)}};
        if (o.bias) p.add({"bias", 1, {o.out_channels}});
        return p;
    }

    template <class T>
    static void reset(const conv_transpose2d_options& o, const std::array<T*, 4>& p, const std::array<T*, 4>&, generator& gen) {
        const auto w = weight_dims(o);
        uniform_weight_and_bias(p[0], w[0] * w[1] * w[2] * w[3], p[1], o.out_channels, w[1] * w[2] * w[3], gen);
    }

    static constexpr kernels::conv_transpose2d_options kernel_options(const conv_transpose2d_options& o) {
        return {.stride = o.stride.array(),
                .padding = o.padding.array(),
                .output_padding = o.output_padding.array(),
                .dilation = o.dilation.array(),
                .groups = o.groups};
    }

    // The adjoint conv2d runs from the output's side: its im2col matrix has the input's positions.
    static constexpr std::size_t workspace_size(const conv_transpose2d_options& o, const dims& in,
                                                std::size_t batch) {
        return detail::lowered_workspace_bound(o.out_channels / o.groups * o.kernel_size.h * o.kernel_size.w,
                                               in[0] / o.groups, in[0], in[1] * in[2], batch, false);
    }

    template <class T>
    static void forward(const conv_transpose2d_options& o, const dims& in, const call<T>& c) {
        using kernels::tensor_view;
        const dims out = output_shape(o, in).out;
        const std::span<T> ws(c.workspace, workspace_size(o, in, c.batch));
        const tensor_view<const T, 4> x(c.x[0], {c.batch, in[0], in[1], in[2]}), w(c.params[0], weight_dims(o));
        const tensor_view<T, 4> y(c.y, {c.batch, out[0], out[1], out[2]});
        if (c.params[1])
            kernels::conv_transpose2d_forward(x, w, tensor_view<const T, 1>(c.params[1], {o.out_channels}), y,
                                              kernel_options(o), ws);
        else
            kernels::conv_transpose2d_forward(x, w, kernels::none, y, kernel_options(o), ws);
    }

    template <class T>
    static void backward(const conv_transpose2d_options& o, const dims& in, const call<T>& c) {
        using kernels::tensor_view;
        const dims out = output_shape(o, in).out;
        const std::span<T> ws(c.workspace, workspace_size(o, in, c.batch));
        const std::array<std::size_t, 4> xs{c.batch, in[0], in[1], in[2]};
        const tensor_view<const T, 4> x(c.x[0], xs), w(c.params[0], weight_dims(o)),
            dy(c.dy, {c.batch, out[0], out[1], out[2]});
        const auto none = kernels::none;
        const auto dw = [&] { return tensor_view<T, 4>(c.dparams[0], weight_dims(o)); };
        const auto db = [&] { return tensor_view<T, 1>(c.dparams[1], {o.out_channels}); };
        const auto k = kernel_options(o);
        with_param_grads(c, dw, db, [&](auto dweight, auto dbias) {
            kernels::conv_transpose2d_backward(x, w, dy, none, dweight, dbias, k, ws, c.dparams_mode);
        });
        if (c.dx[0])
            kernels::conv_transpose2d_backward(x, w, dy, tensor_view<T, 4>(c.dx[0], xs), none, none, k, ws,
                                               c.dx_mode[0]);
    }
};

}  // namespace katachi::ops
