// katachi/ops/relu.hpp: relu(x) = max(x, 0), defined once for both faces. Its backward reads the
// output (the gradient passes where y > 0), so neither face keeps the input for it. The graph face
// lets a max pooling after it take it in (graph/fusion.hpp).
#pragma once

#include <katachi/kernels/relu.hpp>
#include <katachi/ops/elementwise.hpp>

namespace katachi::ops {

struct relu_options {};

struct relu : elementwise_op {
    using options_type = relu_options;
    static constexpr const char* name = "relu";
    static constexpr bool backward_reads_input = false;
    static constexpr bool backward_reads_output = true;
    static constexpr text spelling(const relu_options&) { return "relu"; }

    template <class T>
    static void forward(const relu_options&, const dims& in, const call<T>& c) {
        kernels::relu_forward(flat(c.x[0], c.batch, in), flat(c.y, c.batch, in));
    }

    template <class T>
    static void backward(const relu_options&, const dims& in, const call<T>& c) {
        if (c.dx[0])
            kernels::relu_backward(flat<const T>(c.y, c.batch, in), flat(c.dy, c.batch, in),
                                   flat(c.dx[0], c.batch, in), c.dx_mode[0]);
    }
};

}  // namespace katachi::ops
