// katachi/kernels/leaky_relu.hpp: leaky_relu(x) = x if x > 0 else negative_slope * x, on any shape.
//
// The backward takes the forward's input (a negative slope may be 0 or negative, so the output
// alone does not tell the side). At x == 0 the derivative is negative_slope, as in PyTorch.
#pragma once

#include <katachi/kernels/elementwise.hpp>

namespace katachi::kernels {

// y = leaky_relu(x); y may alias x.
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void leaky_relu_forward(const X& x, Y&& y, double negative_slope = 0.01) {
    using T = detail::value_t<X>;
    const T slope = static_cast<T>(negative_slope);
    detail::map_forward("leaky_relu_forward", x, y, [slope](T v) { return v > T(0) ? v : v * slope; });
}

// dx = dy if x > 0 else negative_slope * dy.
template <detail::real_tensor X, detail::input_of<detail::value_t<X>> DY,
          detail::gradient_of<detail::value_t<X>> DX>
void leaky_relu_backward(const X& x, const DY& dy, DX&& dx, double negative_slope = 0.01,
                         write mode = write::overwrite) {
    using T = detail::value_t<X>;
    const T slope = static_cast<T>(negative_slope);
    detail::map_backward("leaky_relu_backward", "x", x, dy, dx, mode,
                         [slope](T in, T g) { return in > T(0) ? g : g * slope; });
}

}  // namespace katachi::kernels
