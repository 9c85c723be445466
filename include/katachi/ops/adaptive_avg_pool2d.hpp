// katachi/ops/adaptive_avg_pool2d.hpp: average pooling to a given output size
// (torch.nn.AdaptiveAvgPool2d), defined once for both faces.
//
// Per sample [C, H, W] -> [C, oh, ow]; output position i of a dimension averages the inputs
// [floor(i in / out), ceil((i + 1) in / out)).
#pragma once

#include <katachi/kernels/adaptive_avg_pool2d.hpp>
#include <katachi/kernels/tensor_view.hpp>
#include <katachi/ops/op.hpp>

namespace katachi::ops {

struct adaptive_avg_pool2d_options {
    size2 output_size = 1;
};

struct adaptive_avg_pool2d : op_defaults {
    using options_type = adaptive_avg_pool2d_options;
    static constexpr const char* name = "adaptive_avg_pool2d";
    static constexpr bool backward_reads_input = false;  // its backward reads dy only

    static constexpr text spelling(const adaptive_avg_pool2d_options& o) {
        text t;
        t << "adaptive_avg_pool2d<" << o.output_size.h;
        if (o.output_size.w != o.output_size.h) t << ", " << o.output_size.w;
        return t << '>';
    }

    static constexpr rule output_shape(const adaptive_avg_pool2d_options& o, const dims& in) {
        if (in.rank != 3)
            return text() << "takes a per-sample [C, H, W], got " << in
                          << ": remove the flatten before it, or use a layer for this rank";
        if (o.output_size.h == 0 || o.output_size.w == 0)
            return text() << "has an output_size of (" << o.output_size.h << ", " << o.output_size.w
                          << "): both sizes must be at least 1";
        return dims{in[0], o.output_size.h, o.output_size.w};
    }

    template <class T>
    static void forward(const adaptive_avg_pool2d_options& o, const dims& in, const call<T>& c) {
        kernels::adaptive_avg_pool2d_forward(
            kernels::tensor_view<const T, 4>(c.x[0], {c.batch, in[0], in[1], in[2]}),
            kernels::tensor_view<T, 4>(c.y, {c.batch, in[0], o.output_size.h, o.output_size.w}));
    }

    template <class T>
    static void backward(const adaptive_avg_pool2d_options& o, const dims& in, const call<T>& c) {
        if (!c.dx[0]) return;
        kernels::adaptive_avg_pool2d_backward(
            kernels::tensor_view<const T, 4>(c.dy, {c.batch, in[0], o.output_size.h, o.output_size.w}),
            kernels::tensor_view<T, 4>(c.dx[0], {c.batch, in[0], in[1], in[2]}), c.dx_mode[0]);
    }
};

}  // namespace katachi::ops
