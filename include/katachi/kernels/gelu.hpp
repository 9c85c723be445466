// katachi/kernels/gelu.hpp: the Gaussian error linear unit, elementwise on any shape.
//
// Exact form (PyTorch's approximate='none'):  gelu(x) = x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)).
// Tanh form (PyTorch's approximate='tanh'):   gelu(x) = x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
// The backward takes the forward's input and differentiates the form the forward used.
#pragma once

#include <cmath>
#include <numbers>

#include <katachi/kernels/elementwise.hpp>

namespace katachi::kernels {

enum class gelu_approximate { none, tanh };

namespace detail {

template <class T>
struct gelu_constants {
    static constexpr T inv_sqrt2 = T(std::numbers::sqrt2 / 2);  // 1 / sqrt 2
    static constexpr T inv_sqrt_2pi =
        T(std::numbers::inv_sqrtpi * std::numbers::sqrt2 / 2);                              // 1 / sqrt(2 pi)
    static constexpr T sqrt_2_over_pi = T(std::numbers::sqrt2 * std::numbers::inv_sqrtpi);  // sqrt(2 / pi)
    static constexpr T cubic = T(0.044715);
};

}  // namespace detail

// y = gelu(x); y may alias x.
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void gelu_forward(const X& x, Y&& y, gelu_approximate approximate = gelu_approximate::none) {
    using T = detail::value_t<X>;
    using c = detail::gelu_constants<T>;
    if (approximate == gelu_approximate::tanh)
        detail::map_forward("gelu_forward", x, y, [](T v) {
            const T inner = c::sqrt_2_over_pi * (v + c::cubic * v * v * v);
            return T(0.5) * v * (T(1) + std::tanh(inner));
        });
    else
        detail::map_forward("gelu_forward", x, y,
                            [](T v) { return T(0.5) * v * (T(1) + std::erf(v * c::inv_sqrt2)); });
}

// dx = dy * gelu'(x).
//   exact: Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
//   tanh:  (1 + t) / 2 + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(inner)
template <detail::real_tensor X, detail::input_of<detail::value_t<X>> DY,
          detail::gradient_of<detail::value_t<X>> DX>
void gelu_backward(const X& x, const DY& dy, DX&& dx, gelu_approximate approximate = gelu_approximate::none,
                   write mode = write::overwrite) {
    using T = detail::value_t<X>;
    using c = detail::gelu_constants<T>;
    if (approximate == gelu_approximate::tanh)
        detail::map_backward("gelu_backward", "x", x, dy, dx, mode, [](T v, T g) {
            const T v2 = v * v;
            const T t = std::tanh(c::sqrt_2_over_pi * (v + c::cubic * v2 * v));
            const T d_inner = c::sqrt_2_over_pi * (T(1) + T(3) * c::cubic * v2);
            return g * (T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * d_inner);
        });
    else
        detail::map_backward("gelu_backward", "x", x, dy, dx, mode, [](T v, T g) {
            const T cdf = T(0.5) * (T(1) + std::erf(v * c::inv_sqrt2));
            const T pdf = c::inv_sqrt_2pi * std::exp(T(-0.5) * v * v);
            return g * (cdf + v * pdf);
        });
}

}  // namespace katachi::kernels
