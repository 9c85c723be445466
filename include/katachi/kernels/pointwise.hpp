// katachi/kernels/pointwise.hpp: the maps of one element that are not activations: sqrt, abs,
// exp, log, pow and clamp, elementwise on any shape, with PyTorch's derivatives.
//
// Each derivative is written once, as a function of scalars (the `*_grad` functions below), so the
// eager face's broadcasting forms (pow of two tensors, src/eager/ops/broadcast.cpp) use the same
// arithmetic as these kernels. sqrt and exp read their output in the backward, the others their
// input. At the points where a derivative is not defined PyTorch's choice is kept: abs'(0) = 0,
// clamp passes the gradient at both bounds, pow's exponent 0 gives a zero gradient.
#pragma once

#include <cmath>

#include <katachi/kernels/elementwise.hpp>

namespace katachi::kernels {

namespace detail {

template <class T>
T sqrt_grad(T y, T g) {
    return g / (T(2) * y);
}
template <class T>
T abs_grad(T x, T g) {
    return x > T(0) ? g : x < T(0) ? -g : T(0);
}
template <class T>
T log_grad(T x, T g) {
    return g / x;
}
// d x^p / dx = p x^(p - 1), and 0 for p = 0 (even at x = 0).
template <class T>
T pow_grad_base(T x, T p, T g) {
    return p == T(0) ? T(0) : g * p * std::pow(x, p - T(1));
}
// d x^p / dp = x^p log x, and 0 where x = 0 and p >= 0 (the limit PyTorch takes).
template <class T>
T pow_grad_exponent(T x, T p, T y, T g) {
    return x == T(0) && p >= T(0) ? T(0) : g * y * std::log(x);
}
// The gradient passes where lo <= x <= hi (a missing bound passes everything on its side).
template <class T>
T clamp_grad(T x, T g, bool has_lo, T lo, bool has_hi, T hi) {
    return (!has_lo || x >= lo) && (!has_hi || x <= hi) ? g : T(0);
}
// NaN stays NaN, as in PyTorch's clamp.
template <class T>
T clamp_value(T x, bool has_lo, T lo, bool has_hi, T hi) {
    if (std::isnan(x)) return x;
    if (has_lo && x < lo) x = lo;
    if (has_hi && x > hi) x = hi;
    return x;
}

}  // namespace detail

// ---- sqrt: dy / (2 y) -------------------------------------------------------------------------
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void sqrt_forward(const X& x, Y&& y) {
    using T = detail::value_t<X>;
    detail::map_forward("sqrt_forward", x, y, [](T v) { return std::sqrt(v); });
}
template <detail::real_tensor Y, detail::input_of<detail::value_t<Y>> DY,
          detail::gradient_of<detail::value_t<Y>> DX>
void sqrt_backward(const Y& y, const DY& dy, DX&& dx, write mode = write::overwrite) {
    using T = detail::value_t<Y>;
    detail::map_backward("sqrt_backward", "y", y, dy, dx, mode, [](T out, T g) { return detail::sqrt_grad(out, g); });
}

// ---- abs: dy sign(x) ---------------------------------------------------------------------------
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void abs_forward(const X& x, Y&& y) {
    using T = detail::value_t<X>;
    detail::map_forward("abs_forward", x, y, [](T v) { return std::abs(v); });
}
template <detail::real_tensor X, detail::input_of<detail::value_t<X>> DY,
          detail::gradient_of<detail::value_t<X>> DX>
void abs_backward(const X& x, const DY& dy, DX&& dx, write mode = write::overwrite) {
    using T = detail::value_t<X>;
    detail::map_backward("abs_backward", "x", x, dy, dx, mode, [](T in, T g) { return detail::abs_grad(in, g); });
}

// ---- exp: dy y -----------------------------------------------------------------------------------
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void exp_forward(const X& x, Y&& y) {
    using T = detail::value_t<X>;
    detail::map_forward("exp_forward", x, y, [](T v) { return std::exp(v); });
}
template <detail::real_tensor Y, detail::input_of<detail::value_t<Y>> DY,
          detail::gradient_of<detail::value_t<Y>> DX>
void exp_backward(const Y& y, const DY& dy, DX&& dx, write mode = write::overwrite) {
    using T = detail::value_t<Y>;
    detail::map_backward("exp_backward", "y", y, dy, dx, mode, [](T out, T g) { return g * out; });
}

// ---- log: dy / x ---------------------------------------------------------------------------------
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void log_forward(const X& x, Y&& y) {
    using T = detail::value_t<X>;
    detail::map_forward("log_forward", x, y, [](T v) { return std::log(v); });
}
template <detail::real_tensor X, detail::input_of<detail::value_t<X>> DY,
          detail::gradient_of<detail::value_t<X>> DX>
void log_backward(const X& x, const DY& dy, DX&& dx, write mode = write::overwrite) {
    using T = detail::value_t<X>;
    detail::map_backward("log_backward", "x", x, dy, dx, mode, [](T in, T g) { return detail::log_grad(in, g); });
}

// ---- pow with a number for exponent: dy p x^(p - 1) --------------------------------------------------
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void pow_forward(const X& x, Y&& y, double exponent) {
    using T = detail::value_t<X>;
    const T p = static_cast<T>(exponent);
    detail::map_forward("pow_forward", x, y, [p](T v) { return std::pow(v, p); });
}
template <detail::real_tensor X, detail::input_of<detail::value_t<X>> DY,
          detail::gradient_of<detail::value_t<X>> DX>
void pow_backward(const X& x, const DY& dy, DX&& dx, double exponent, write mode = write::overwrite) {
    using T = detail::value_t<X>;
    const T p = static_cast<T>(exponent);
    detail::map_backward("pow_backward", "x", x, dy, dx, mode,
                         [p](T in, T g) { return detail::pow_grad_base(in, p, g); });
}

// ---- clamp to [lo, hi], either bound optional ----------------------------------------------------------
template <detail::real_tensor X, detail::output_of<detail::value_t<X>> Y>
void clamp_forward(const X& x, Y&& y, bool has_lo, double lo, bool has_hi, double hi) {
    using T = detail::value_t<X>;
    const T l = static_cast<T>(lo), h = static_cast<T>(hi);
    detail::map_forward("clamp_forward", x, y, [=](T v) { return detail::clamp_value(v, has_lo, l, has_hi, h); });
}
template <detail::real_tensor X, detail::input_of<detail::value_t<X>> DY,
          detail::gradient_of<detail::value_t<X>> DX>
void clamp_backward(const X& x, const DY& dy, DX&& dx, bool has_lo, double lo, bool has_hi, double hi,
                    write mode = write::overwrite) {
    using T = detail::value_t<X>;
    const T l = static_cast<T>(lo), h = static_cast<T>(hi);
    detail::map_backward("clamp_backward", "x", x, dy, dx, mode,
                         [=](T in, T g) { return detail::clamp_grad(in, g, has_lo, l, has_hi, h); });
}

}  // namespace katachi::kernels
