// katachi/graph/layers/sigmoid.hpp: sigmoid keeps the shape; its backward reads the output.
#pragma once

#include <katachi/graph/layers/output_activation.hpp>
#include <katachi/kernels/sigmoid.hpp>
#include <string>

namespace katachi::graph {

struct sigmoid : output_activation<sigmoid> {
    static std::string name() { return "sigmoid"; }

    template <class X, class Y>
    static void forward(const X& x, Y&& y) {
        kernels::sigmoid_forward(x, y);
    }

    template <class Y, class DY, class DX>
    static void backward(const Y& y, const DY& dy, DX&& dx, kernels::write mode) {
        kernels::sigmoid_backward(y, dy, dx, mode);
    }
};

}  // namespace katachi::graph
