// katachi/kernels/sigmoid.hpp: sigmoid(x) = 1 / (1 + exp(-x)), elementwise on any shape.
//
// The forward never evaluates exp of a positive number, so it neither overflows nor loses the
// small tail for large |x|: sigmoid(-100) is about 3.7e-44, not 0 after 1 / inf.
// The backward takes the forward's output: d sigmoid / dx = y (1 - y).
#pragma once

#include <cmath>

#include <katachi/kernels/elementwise.hpp>

namespace katachi::kernels {

// y = sigmoid(x); y may alias x.
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void sigmoid_forward(const X& x, Y&& y) {
    using T = detail::value_t<X>;
    detail::map_forward("sigmoid_forward", x, y, [](T v) {
        if (v >= T(0)) return T(1) / (T(1) + std::exp(-v));
        const T e = std::exp(v);
        return e / (T(1) + e);
    });
}

// dx = dy * y * (1 - y).
template <detail::real_tensor Y, detail::input_of<detail::value_t<Y>> DY,
          detail::gradient_of<detail::value_t<Y>> DX>
void sigmoid_backward(const Y& y, const DY& dy, DX&& dx, write mode = write::overwrite) {
    using T = detail::value_t<Y>;
    detail::map_backward("sigmoid_backward", "y", y, dy, dx, mode,
                         [](T out, T g) { return g * out * (T(1) - out); });
}

}  // namespace katachi::kernels
