// katachi/eager/functional/arithmetic.hpp: elementwise arithmetic, reductions and matmul.
//
// Binary operations take tensors of equal shape (no broadcasting) or a tensor and a number; a
// mismatch throws katachi::shape_mismatch naming the operation and both shapes. Each is
// differentiable with respect to its tensor arguments; the derivatives sit beside the forwards in
// src/eager/ops/arithmetic.cpp. Defined for float and double tensors.
#pragma once

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

template <class T>
basic_tensor<T> pow(const basic_tensor<T>& a, scalar_of<T> exponent);
template <class T>
basic_tensor<T> exp(const basic_tensor<T>& a);
template <class T>
basic_tensor<T> log(const basic_tensor<T>& a);

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
