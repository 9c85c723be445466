// katachi/ops/sigmoid.hpp: sigmoid(x) = 1 / (1 + exp(-x)), defined once for both faces. Its
// backward reads the output: dx = dy * y * (1 - y).
#pragma once

#include <katachi/kernels/sigmoid.hpp>
#include <katachi/ops/elementwise.hpp>

namespace katachi::ops {

struct sigmoid_options {};

struct sigmoid : elementwise_op {
    using options_type = sigmoid_options;
    static constexpr const char* name = "sigmoid";
    static constexpr bool backward_reads_input = false;
    static constexpr bool backward_reads_output = true;
    static constexpr text spelling(const sigmoid_options&) { return "sigmoid"; }

    template <class T>
    static void forward(const sigmoid_options&, const dims& in, const call<T>& c) {
        kernels::sigmoid_forward(flat(c.x[0], c.batch, in), flat(c.y, c.batch, in));
    }

    template <class T>
    static void backward(const sigmoid_options&, const dims& in, const call<T>& c) {
        if (c.dx[0])
            kernels::sigmoid_backward(flat<const T>(c.y, c.batch, in), flat(c.dy, c.batch, in),
                                      flat(c.dx[0], c.batch, in), c.dx_mode[0]);
    }
};

}  // namespace katachi::ops
