// katachi/ops/leaky_relu.hpp: leaky_relu(x) = x for x >= 0, negative_slope * x below, defined once
// for both faces (PyTorch's default slope 0.01). Its backward reads the input.
#pragma once

#include <katachi/kernels/leaky_relu.hpp>
#include <katachi/ops/elementwise.hpp>

namespace katachi::ops {

struct leaky_relu_options {
    real negative_slope = 0.01;
};

struct leaky_relu : elementwise_op {
    using options_type = leaky_relu_options;
    static constexpr const char* name = "leaky_relu";
    static constexpr text spelling(const leaky_relu_options& o) {
        return text() << "leaky_relu(negative_slope=" << o.negative_slope.value() << ")";
    }

    template <class T>
    static void forward(const leaky_relu_options& o, const dims& in, const call<T>& c) {
        kernels::leaky_relu_forward(flat(c.x[0], c.batch, in), flat(c.y, c.batch, in), o.negative_slope.value());
    }

    template <class T>
    static void backward(const leaky_relu_options& o, const dims& in, const call<T>& c) {
        if (c.dx[0])
            kernels::leaky_relu_backward(flat(c.x[0], c.batch, in), flat(c.dy, c.batch, in),
                                         flat(c.dx[0], c.batch, in), o.negative_slope.value(), c.dx_mode[0]);
    }
};

}  // namespace katachi::ops
