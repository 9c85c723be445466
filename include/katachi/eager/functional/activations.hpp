// katachi/eager/functional/activations.hpp: differentiable activations on tensors of any shape.
//
// Each calls its kernel (katachi/kernels/<name>.hpp) for the forward and the backward; the nodes
// that pair them sit in src/eager/ops/activations.cpp. Defined for float and double tensors.
#pragma once

#include <cstddef>

#include "katachi/eager/tensor.hpp"
#include "katachi/kernels/gelu.hpp"  // kernels::gelu_approximate (a light header)

namespace katachi::eager {

using kernels::gelu_approximate;

template <class T>
basic_tensor<T> relu(const basic_tensor<T>& x);
template <class T>
basic_tensor<T> leaky_relu(const basic_tensor<T>& x, double negative_slope = 0.01);
template <class T>
basic_tensor<T> gelu(const basic_tensor<T>& x, gelu_approximate approximate = gelu_approximate::none);
template <class T>
basic_tensor<T> sigmoid(const basic_tensor<T>& x);
template <class T>
basic_tensor<T> tanh(const basic_tensor<T>& x);
// Along `dim` (negative counts from the end).
template <class T>
basic_tensor<T> softmax(const basic_tensor<T>& x, std::ptrdiff_t dim = -1);
template <class T>
basic_tensor<T> log_softmax(const basic_tensor<T>& x, std::ptrdiff_t dim = -1);

}  // namespace katachi::eager
