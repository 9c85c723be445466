// katachi/graph/layers/tanh.hpp: tanh keeps the shape; its backward reads the output.
#pragma once

#include <katachi/graph/layers/output_activation.hpp>
#include <katachi/kernels/tanh.hpp>
#include <string>

namespace katachi::graph {

struct tanh : output_activation<tanh> {
    static std::string name() { return "tanh"; }

    template <class X, class Y>
    static void forward(const X& x, Y&& y) {
        kernels::tanh_forward(x, y);
    }

    template <class Y, class DY, class DX>
    static void backward(const Y& y, const DY& dy, DX&& dx, kernels::write mode) {
        kernels::tanh_backward(y, dy, dx, mode);
    }
};

}  // namespace katachi::graph
