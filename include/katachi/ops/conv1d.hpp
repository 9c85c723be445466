// katachi/ops/conv1d.hpp: 1-d convolution (torch.nn.Conv1d), defined once for both faces.
//
// Per sample [C, L] -> [out_channels, Lo], Lo = floor((L + 2 padding - dilation (kernel - 1) - 1) /
// stride) + 1. weight [out_channels, C / groups, kernel] and bias [out_channels], both uniform in
// +-1 / sqrt(C / groups kernel). in_channels = 0 means deduced from the input. Zero padding only.
#pragma once

#include <cmath>
#include <katachi/kernels/conv1d.hpp>
#include <katachi/kernels/tensor_view.hpp>
#include <katachi/ops/conv2d.hpp>
#include <katachi/ops/op.hpp>

namespace katachi::ops {

struct conv1d_options {
    std::size_t in_channels = 0;  // 0: deduced from the input (graph face, lazy_conv1d)
    std::size_t out_channels = 0;
    std::size_t kernel_size = 1;
    std::size_t stride = 1;
    std::size_t padding = 0;
    std::size_t dilation = 1;
    std::size_t groups = 1;
    bool bias = true;
    ops::padding_mode padding_mode = ops::padding_mode::zeros;
};

struct conv1d : op_defaults {
    using options_type = conv1d_options;
    static constexpr const char* name = "conv1d";

    static constexpr text spelling(const conv1d_options& o) {
        text t;
        t << "conv1d<" << o.out_channels << ", " << o.kernel_size;
        if (o.stride != 1) t << ", stride<" << o.stride << '>';
        if (o.padding != 0) t << ", padding<" << o.padding << '>';
        if (o.dilation != 1) t << ", dilation<" << o.dilation << '>';
        if (o.groups != 1) t << ", groups<" << o.groups << '>';
        if (!o.bias) t << ", bias<false>";
        return t << '>';
    }

    static constexpr rule output_shape(const conv1d_options& o, const dims& in) {
        if (in.rank != 2)
            return text() << "takes a per-sample [C, L], got " << in
                          << ": give it a rank-2 input, or use the 2-d layer";
        if (const text why = detail::channel_sentence(in, o.in_channels, o.out_channels, o.groups, o.padding_mode);
            !why.empty())
            return why;
        const size_result r = conv_output(
            {.input = in[1], .kernel = o.kernel_size, .stride = o.stride, .padding = o.padding, .dilation = o.dilation});
        if (!r.ok() || r.value == 0)
            return detail::conv_size_sentence(r, "length", in[1], o.kernel_size, o.stride, o.padding, o.dilation);
        return dims{o.out_channels, r.value};
    }

    static constexpr conv1d_options bound(conv1d_options o, const dims& in) {
        o.in_channels = in[0];
        return o;
    }
    static constexpr std::array<std::size_t, 3> weight_dims(const conv1d_options& o) {
        return {o.out_channels, o.in_channels / o.groups, o.kernel_size};
    }
    static constexpr tensor_specs parameters(const conv1d_options& o) {
        const auto w = weight_dims(o);
        tensor_specs p{{"weight", 3, {w[0], w[1], w[2]}}};
        if (o.bias) p.add({"bias", 1, {o.out_channels}});
        return p;
    }

    template <class T>
    static void reset(const conv1d_options& o, const std::array<T*, 4>& p, const std::array<T*, 4>&, generator& gen) {
        const auto w = weight_dims(o);
        uniform_weight_and_bias(p[0], w[0] * w[1] * w[2], p[1], o.out_channels, w[1] * w[2], gen);
    }

    static constexpr kernels::conv1d_options kernel_options(const conv1d_options& o) {
        return {.stride = o.stride, .padding = o.padding, .dilation = o.dilation, .groups = o.groups};
    }

    static constexpr std::size_t workspace_size(const conv1d_options& o, const dims& in, std::size_t batch) {
        const dims out = output_shape(o, in).out;
        return detail::lowered_workspace_bound(in[0] / o.groups * o.kernel_size, o.out_channels / o.groups,
                                               o.out_channels, out[1], batch,
                                               o.kernel_size == 1 && o.stride == 1 && o.padding == 0);
    }

    template <class T>
    static void forward(const conv1d_options& o, const dims& in, const call<T>& c) {
        using kernels::tensor_view;
        const dims out = output_shape(o, in).out;
        const std::span<T> ws(c.workspace, workspace_size(o, in, c.batch));
        const tensor_view<const T, 3> x(c.x[0], {c.batch, in[0], in[1]}), w(c.params[0], weight_dims(o));
        const tensor_view<T, 3> y(c.y, {c.batch, out[0], out[1]});
        if (c.params[1])
            kernels::conv1d_forward(x, w, tensor_view<const T, 1>(c.params[1], {o.out_channels}), y,
                                    kernel_options(o), ws);
        else
            kernels::conv1d_forward(x, w, kernels::none, y, kernel_options(o), ws);
    }

    template <class T>
    static void backward(const conv1d_options& o, const dims& in, const call<T>& c) {
        using kernels::tensor_view;
        const dims out = output_shape(o, in).out;
        const std::span<T> ws(c.workspace, workspace_size(o, in, c.batch));
        const tensor_view<const T, 3> x(c.x[0], {c.batch, in[0], in[1]}), w(c.params[0], weight_dims(o)),
            dy(c.dy, {c.batch, out[0], out[1]});
        const auto none = kernels::none;
        const auto dw = [&] { return tensor_view<T, 3>(c.dparams[0], weight_dims(o)); };
        const auto db = [&] { return tensor_view<T, 1>(c.dparams[1], {o.out_channels}); };
        with_param_grads(c, dw, db, [&](auto dweight, auto dbias) {
            kernels::conv1d_backward(x, w, dy, none, dweight, dbias, kernel_options(o), ws, c.dparams_mode);
        });
        if (c.dx[0])
            kernels::conv1d_backward(x, w, dy, tensor_view<T, 3>(c.dx[0], {c.batch, in[0], in[1]}), none, none,
                                     kernel_options(o), ws, c.dx_mode[0]);
    }
};

}  // namespace katachi::ops
