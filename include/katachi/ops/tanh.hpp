// katachi/ops/tanh.hpp: the hyperbolic tangent, defined once for both faces. Its backward reads
// the output: dx = dy * (1 - y^2).
#pragma once

#include <katachi/kernels/tanh.hpp>
#include <katachi/ops/elementwise.hpp>

namespace katachi::ops {

struct tanh_options {};

struct tanh : elementwise_op {
    using options_type = tanh_options;
    static constexpr const char* name = "tanh";
    static constexpr bool backward_reads_input = false;
    static constexpr bool backward_reads_output = true;
    static constexpr text spelling(const tanh_options&) { return "tanh"; }

    template <class T>
    static void forward(const tanh_options&, const dims& in, const call<T>& c) {
        kernels::tanh_forward(flat(c.x[0], c.batch, in), flat(c.y, c.batch, in));
    }

    template <class T>
    static void backward(const tanh_options&, const dims& in, const call<T>& c) {
        if (c.dx[0])
            kernels::tanh_backward(flat<const T>(c.y, c.batch, in), flat(c.dy, c.batch, in),
                                   flat(c.dx[0], c.batch, in), c.dx_mode[0]);
    }
};

}  // namespace katachi::ops
