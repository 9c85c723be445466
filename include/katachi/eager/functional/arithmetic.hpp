// katachi/eager/functional/arithmetic.hpp: elementwise arithmetic, pointwise maps, whole-tensor
// reductions and matmul.
//
// The binary operations (add, sub, mul, div, pow of two tensors, where) broadcast as PyTorch does:
// the shapes are aligned at their last dimension and a size of 1 (or a missing dimension) stretches
// to the other's size, so [4, 10] + [10] is [4, 10]. Shapes that do not broadcast throw
// katachi::shape_mismatch with PyTorch's sentence after the operation's name ("add: The size of
// tensor a (4) must match the size of tensor b (3) at non-singleton dimension 1"). The gradient of
// a broadcast input is summed over the dimensions it was stretched along, back to its own shape
// (src/eager/ops/broadcast.cpp). A number operand converts to the tensor's scalar.
//
// The maps of one element (sqrt, abs, exp, log, pow with a number, clamp) are ops of
// katachi/ops/pointwise.hpp over kernels/pointwise.hpp (src/eager/ops/pointwise.cpp). Reductions
// along a dimension are in reductions.hpp, cat, stack and indexing in indexing.hpp. Everything is
// differentiable in its tensor arguments and defined for float and double tensors.
#pragma once

#include <optional>
#include <type_traits>

#include "katachi/eager/tensor.hpp"

namespace katachi::eager {

template <class T>
using scalar_of = std::type_identity_t<T>;  // a number operand converts to the tensor's scalar

template <class T>
basic_tensor<T> add(const basic_tensor<T>& a, const basic_tensor<T>& b);
template <class T>
basic_tensor<T> sub(const basic_tensor<T>& a, const basic_tensor<T>& b);
template <class T>
basic_tensor<T> mul(const basic_tensor<T>& a, const basic_tensor<T>& b);
template <class T>
basic_tensor<T> div(const basic_tensor<T>& a, const basic_tensor<T>& b);
template <class T>
basic_tensor<T> neg(const basic_tensor<T>& a);

template <class T>
basic_tensor<T> add(const basic_tensor<T>& a, scalar_of<T> s);  // a + s
template <class T>
basic_tensor<T> mul(const basic_tensor<T>& a, scalar_of<T> s);  // a * s
template <class T>
basic_tensor<T> rsub(const basic_tensor<T>& a, scalar_of<T> s);  // s - a
template <class T>
basic_tensor<T> rdiv(const basic_tensor<T>& a, scalar_of<T> s);  // s / a

// Pointwise maps (PyTorch's derivatives: abs'(0) = 0, clamp passes the gradient at its bounds).
template <class T>
basic_tensor<T> pow(const basic_tensor<T>& a, scalar_of<T> exponent);
// a^b elementwise, broadcasting; differentiable in both (b's gradient is a^b log a, 0 where a = 0
// and b >= 0).
template <class T>
basic_tensor<T> pow(const basic_tensor<T>& a, const basic_tensor<T>& b);
template <class T>
basic_tensor<T> exp(const basic_tensor<T>& a);
template <class T>
basic_tensor<T> log(const basic_tensor<T>& a);
template <class T>
basic_tensor<T> sqrt(const basic_tensor<T>& a);
template <class T>
basic_tensor<T> abs(const basic_tensor<T>& a);
// Each element limited to [min, max]; either bound may be std::nullopt, not both (std::invalid_argument).
template <class T>
basic_tensor<T> clamp(const basic_tensor<T>& a, std::optional<double> min, std::optional<double> max = std::nullopt);

// a where cond is nonzero, b elsewhere; the three broadcast together. cond takes no gradient (the
// eager face has no bool tensors: any nonzero element counts as true).
template <class T>
basic_tensor<T> where(const basic_tensor<T>& cond, const basic_tensor<T>& a, const basic_tensor<T>& b);

// Sum and mean of all elements: rank-0 tensors.
template <class T>
basic_tensor<T> sum(const basic_tensor<T>& a);
template <class T>
basic_tensor<T> mean(const basic_tensor<T>& a);

// a[m, k] times b[k, n]: [m, n].
template <class T>
basic_tensor<T> matmul(const basic_tensor<T>& a, const basic_tensor<T>& b);

template <class T>
basic_tensor<T> operator+(const basic_tensor<T>& a, const basic_tensor<T>& b) {
    return add(a, b);
}
template <class T>
basic_tensor<T> operator-(const basic_tensor<T>& a, const basic_tensor<T>& b) {
    return sub(a, b);
}
template <class T>
basic_tensor<T> operator*(const basic_tensor<T>& a, const basic_tensor<T>& b) {
    return mul(a, b);
}
template <class T>
basic_tensor<T> operator/(const basic_tensor<T>& a, const basic_tensor<T>& b) {
    return div(a, b);
}
template <class T>
basic_tensor<T> operator-(const basic_tensor<T>& a) {
    return neg(a);
}
template <class T>
basic_tensor<T> operator+(const basic_tensor<T>& a, scalar_of<T> s) {
    return add(a, s);
}
template <class T>
basic_tensor<T> operator+(scalar_of<T> s, const basic_tensor<T>& a) {
    return add(a, s);
}
template <class T>
basic_tensor<T> operator-(const basic_tensor<T>& a, scalar_of<T> s) {
    return add(a, -s);
}
template <class T>
basic_tensor<T> operator-(scalar_of<T> s, const basic_tensor<T>& a) {
    return rsub(a, s);
}
template <class T>
basic_tensor<T> operator*(const basic_tensor<T>& a, scalar_of<T> s) {
    return mul(a, s);
}
template <class T>
basic_tensor<T> operator*(scalar_of<T> s, const basic_tensor<T>& a) {
    return mul(a, s);
}
template <class T>
basic_tensor<T> operator/(const basic_tensor<T>& a, scalar_of<T> s) {
    return mul(a, T(1) / s);
}
template <class T>
basic_tensor<T> operator/(scalar_of<T> s, const basic_tensor<T>& a) {
    return rdiv(a, s);
}

}  // namespace katachi::eager
