// katachi/graph/layers/relu.hpp: relu keeps the shape; its backward reads the output. A max
// pooling right after it that is its only reader takes it in (graph/fusion.hpp).
#pragma once

#include <katachi/graph/layers/output_activation.hpp>
#include <katachi/kernels/relu.hpp>
#include <string>

namespace katachi::graph {

struct relu : output_activation<relu> {
    static std::string name() { return "relu"; }

    template <class X, class Y>
    static void forward(const X& x, Y&& y) {
        kernels::relu_forward(x, y);
    }

    template <class Y, class DY, class DX>
    static void backward(const Y& y, const DY& dy, DX&& dx, kernels::write mode) {
        kernels::relu_backward(y, dy, dx, mode);
    }
};

}  // namespace katachi::graph
