// katachi/ops/gelu.hpp: gelu(x) = x * Phi(x), exact (PyTorch's default) or with the tanh
// approximation (approximate='tanh'), defined once for both faces. Its backward reads the input.
#pragma once

#include <katachi/kernels/gelu.hpp>
#include <katachi/ops/elementwise.hpp>

namespace katachi::ops {

struct gelu_options {
    kernels::gelu_approximate approximate = kernels::gelu_approximate::none;
};

struct gelu : elementwise_op {
    using options_type = gelu_options;
    static constexpr const char* name = "gelu";
    static constexpr text spelling(const gelu_options& o) {
        return o.approximate == kernels::gelu_approximate::none ? "gelu" : "gelu_tanh";
    }

    template <class T>
    static void forward(const gelu_options& o, const dims& in, const call<T>& c) {
        kernels::gelu_forward(flat(c.x[0], c.batch, in), flat(c.y, c.batch, in), o.approximate);
    }

    template <class T>
    static void backward(const gelu_options& o, const dims& in, const call<T>& c) {
        if (c.dx[0])
            kernels::gelu_backward(flat(c.x[0], c.batch, in), flat(c.dy, c.batch, in), flat(c.dx[0], c.batch, in),
                                   o.approximate, c.dx_mode[0]);
    }
};

}  // namespace katachi::ops
