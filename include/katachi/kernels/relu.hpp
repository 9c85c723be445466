// katachi/kernels/relu.hpp: relu(x) = max(x, 0), elementwise on any shape.
//
// The backward takes the forward's output: the gradient passes where y > 0, as PyTorch's
// threshold_backward does, so x need not be kept. NaN inputs stay NaN.
#pragma once

#include <katachi/kernels/elementwise.hpp>

namespace katachi::kernels {

// y = relu(x); y may alias x.
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void relu_forward(const X& x, Y&& y) {
    using T = detail::value_t<X>;
    detail::map_forward("relu_forward", x, y, [](T v) { return v < T(0) ? T(0) : v; });
}

// dx = dy where y > 0, else 0.
template <detail::real_tensor Y, detail::input_of<detail::value_t<Y>> DY,
          detail::gradient_of<detail::value_t<Y>> DX>
void relu_backward(const Y& y, const DY& dy, DX&& dx, write mode = write::overwrite) {
    using T = detail::value_t<Y>;
    detail::map_backward("relu_backward", "y", y, dy, dx, mode,
                         [](T out, T g) { return out > T(0) ? g : T(0); });
}

}  // namespace katachi::kernels
