// katachi/eager/functional/layers.hpp: the differentiable layer operations, as functions.
//
// The modules (nn::linear, nn::conv2d, ...) call these; each calls its kernel for the forward and
// the backward (src/eager/ops/). An absent bias is an undefined tensor, `{}`. Options are the
// kernels' own structs, so `conv2d(x, w, b, {.stride = {2, 2}, .padding = {1, 1}})` reads as
// PyTorch's call. Defined for float and double tensors.
#pragma once

#include <array>
#include <cstddef>

#include "katachi/eager/tensor.hpp"
#include "katachi/random.hpp"

namespace katachi::kernels {
struct conv2d_options;
struct conv1d_options;
struct conv_transpose2d_options;
struct max_pool2d_options;
struct avg_pool2d_options;
}  // namespace katachi::kernels

namespace katachi::eager {

// x[*, in] w[out, in] b[out] -> [*, out]; any number of leading dimensions.
template <class T>
basic_tensor<T> linear(const basic_tensor<T>& x, const basic_tensor<T>& w, const basic_tensor<T>& b = {});

// x[N, C, L], w[O, C / groups, k].
template <class T>
basic_tensor<T> conv1d(const basic_tensor<T>& x, const basic_tensor<T>& w, const basic_tensor<T>& b,
                       const kernels::conv1d_options& options);
// x[N, C, H, W], w[O, C / groups, kh, kw].
template <class T>
basic_tensor<T> conv2d(const basic_tensor<T>& x, const basic_tensor<T>& w, const basic_tensor<T>& b,
                       const kernels::conv2d_options& options);
// x[N, C, H, W], w[C, O / groups, kh, kw].
template <class T>
basic_tensor<T> conv_transpose2d(const basic_tensor<T>& x, const basic_tensor<T>& w, const basic_tensor<T>& b,
                                 const kernels::conv_transpose2d_options& options);

template <class T>
basic_tensor<T> max_pool2d(const basic_tensor<T>& x, const kernels::max_pool2d_options& options);
template <class T>
basic_tensor<T> avg_pool2d(const basic_tensor<T>& x, const kernels::avg_pool2d_options& options);
template <class T>
basic_tensor<T> adaptive_avg_pool2d(const basic_tensor<T>& x, std::array<std::size_t, 2> output_size);

// Batch normalisation over dimension 1 of x[N, C, *]. training: normalise with the batch
// statistics and move running_mean/running_var in place (when defined); otherwise use them.
// weight and bias are both defined (affine) or both undefined.
template <class T>
basic_tensor<T> batch_norm(const basic_tensor<T>& x, const basic_tensor<T>& running_mean,
                           const basic_tensor<T>& running_var, const basic_tensor<T>& weight,
                           const basic_tensor<T>& bias, bool training, double momentum = 0.1,
                           double eps = 1e-5);

// Layer normalisation over the trailing sizes normalized_shape of x (torch.nn.functional.layer_norm):
// each run of those sizes by its own mean and biased variance, then weight and bias of
// normalized_shape (both defined or both undefined).
template <class T>
basic_tensor<T> layer_norm(const basic_tensor<T>& x, const sizes& normalized_shape, const basic_tensor<T>& weight = {},
                           const basic_tensor<T>& bias = {}, double eps = 1e-5);

// Inverted dropout. The functional form takes the training flag explicitly and, as PyTorch's
// F.dropout, defaults it to true: it drops even when the surrounding model is in eval mode (which is
// what Monte Carlo dropout wants). nn::dropout follows its module's train()/eval() instead.
// Draws from `gen`, or from default_generator() when null.
template <class T>
basic_tensor<T> dropout(const basic_tensor<T>& x, double p = 0.5, bool training = true,
                        generator* gen = nullptr);

}  // namespace katachi::eager
