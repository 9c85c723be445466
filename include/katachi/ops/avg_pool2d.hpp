// katachi/ops/avg_pool2d.hpp: 2-d average pooling (torch.nn.AvgPool2d), defined once for both
// faces.
//
// Per sample [C, H, W] -> [C, Ho, Wo]. PyTorch's options: kernel_size; stride (0, the default,
// means the kernel size); padding (at most half the kernel); ceil_mode; count_include_pad (whether
// padded positions count in the divisor; true by default); divisor_override (0: none).
#pragma once

#include <katachi/kernels/avg_pool2d.hpp>
#include <katachi/kernels/tensor_view.hpp>
#include <katachi/ops/op.hpp>
#include <katachi/ops/pooling.hpp>

namespace katachi::ops {

struct avg_pool2d_options {
    size2 kernel_size = 2;
    size2 stride = 0;  // 0: the kernel size
    size2 padding = 0;
    bool ceil_mode = false;
    bool count_include_pad = true;
    std::size_t divisor_override = 0;  // 0: none
};

struct avg_pool2d : op_defaults {
    using options_type = avg_pool2d_options;
    static constexpr const char* name = "avg_pool2d";
    static constexpr bool backward_reads_input = false;  // its backward reads dy only

    static constexpr text spelling(const avg_pool2d_options& o) {
        text t;
        t << "avg_pool2d<" << o.kernel_size.h;
        if (o.kernel_size.w != o.kernel_size.h) t << ", " << o.kernel_size.w;
        detail::spell_pair(t, "stride", o.stride == size2(0) ? o.kernel_size : o.stride, o.kernel_size);
        detail::spell_pair(t, "padding", o.padding, 0);
        if (o.ceil_mode) t << ", ceil_mode<true>";
        if (!o.count_include_pad) t << ", count_include_pad<false>";
        if (o.divisor_override) t << ", divisor_override<" << o.divisor_override << '>';
        return t << '>';
    }

    static constexpr rule output_shape(const avg_pool2d_options& o, const dims& in) {
        return detail::pool2d_rule(in, o.kernel_size, o.stride, o.padding, 1, o.ceil_mode);
    }

    static constexpr kernels::avg_pool2d_options kernel_options(const avg_pool2d_options& o) {
        return {.kernel_size = o.kernel_size.array(),
                .stride = (o.stride == size2(0) ? o.kernel_size : o.stride).array(),
                .padding = o.padding.array(),
                .ceil_mode = o.ceil_mode,
                .count_include_pad = o.count_include_pad,
                .divisor_override = o.divisor_override};
    }

    template <class T>
    static void forward(const avg_pool2d_options& o, const dims& in, const call<T>& c) {
        const dims out = output_shape(o, in).out;
        kernels::avg_pool2d_forward(kernels::tensor_view<const T, 4>(c.x[0], {c.batch, in[0], in[1], in[2]}),
                                    kernels::tensor_view<T, 4>(c.y, {c.batch, out[0], out[1], out[2]}),
                                    kernel_options(o));
    }

    template <class T>
    static void backward(const avg_pool2d_options& o, const dims& in, const call<T>& c) {
        if (!c.dx[0]) return;
        const dims out = output_shape(o, in).out;
        kernels::avg_pool2d_backward(kernels::tensor_view<const T, 4>(c.dy, {c.batch, out[0], out[1], out[2]}),
                                     kernels::tensor_view<T, 4>(c.dx[0], {c.batch, in[0], in[1], in[2]}),
                                     kernel_options(o), c.dx_mode[0]);
    }
};

}  // namespace katachi::ops
