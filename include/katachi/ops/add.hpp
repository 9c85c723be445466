// katachi/ops/add.hpp: the sum of two tensors of one shape (a residual connection), defined once
// for both faces. Its backward hands the same gradient to both inputs.
#pragma once

#include <katachi/kernels/add.hpp>
#include <katachi/kernels/tensor_view.hpp>
#include <katachi/ops/op.hpp>

namespace katachi::ops {

struct add_options {};

struct add : op_defaults {
    using options_type = add_options;
    static constexpr const char* name = "add";
    static constexpr bool backward_reads_input = false;  // its backward reads dy only
    static constexpr text spelling(const add_options&) { return "add"; }

    static constexpr rule output_shape(const add_options&, const dims& a, const dims& b) {
        if (!(a == b))
            return text() << "takes inputs of one shape, got " << a << " and " << b
                          << ": make both branches end in the same shape (a 1x1 conv2d with a stride can "
                             "match a shortcut)";
        return a;
    }

    template <class T>
    static void forward(const add_options&, const dims& a, const dims&, const call<T>& c) {
        const std::array<std::size_t, 2> s{c.batch, a.size()};
        kernels::add_forward(kernels::tensor_view<const T, 2>(c.x[0], s), kernels::tensor_view<const T, 2>(c.x[1], s),
                             kernels::tensor_view<T, 2>(c.y, s));
    }

    template <class T>
    static void backward(const add_options&, const dims& a, const dims&, const call<T>& c) {
        const std::array<std::size_t, 2> s{c.batch, a.size()};
        const kernels::tensor_view<const T, 2> dy(c.dy, s);
        for (std::size_t k = 0; k < 2; ++k)
            if (c.dx[k]) kernels::add_backward(dy, kernels::tensor_view<T, 2>(c.dx[k], s), kernels::none, c.dx_mode[k]);
    }
};

}  // namespace katachi::ops
