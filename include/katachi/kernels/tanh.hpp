// katachi/kernels/tanh.hpp: tanh(x), elementwise on any shape.
//
// The backward takes the forward's output: d tanh / dx = 1 - y^2.
#pragma once

#include <cmath>

#include <katachi/kernels/elementwise.hpp>

namespace katachi::kernels {

// y = tanh(x); y may alias x.
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void tanh_forward(const X& x, Y&& y) {
    using T = detail::value_t<X>;
    detail::map_forward("tanh_forward", x, y, [](T v) { return std::tanh(v); });
}

// dx = dy * (1 - y^2).
template <detail::real_tensor Y, detail::input_of<detail::value_t<Y>> DY,
          detail::gradient_of<detail::value_t<Y>> DX>
void tanh_backward(const Y& y, const DY& dy, DX&& dx, write mode = write::overwrite) {
    using T = detail::value_t<Y>;
    detail::map_backward("tanh_backward", "y", y, dy, dx, mode,
                         [](T out, T g) { return g * (T(1) - out * out); });
}

}  // namespace katachi::kernels
