// src/eager/ops/fused.hpp: ops that the eager containers run in place of a pair of layers (not
// installed). Each gives the same values and gradients as the pair.
#pragma once

#include "katachi/eager/tensor.hpp"
#include "katachi/ops/conv2d.hpp"
#include "katachi/ops/max_pool2d.hpp"

namespace katachi::eager::detail {

// max_pool2d(relu(x)) as one op, the graph face's relu_max_pool2d (katachi/graph/fusion.hpp says
// why it is exact): the pooling reads x, the relu is applied to the pooled values, and the
// backward passes a gradient only where the pooled value is positive. The relu's two full-size
// passes and its output are left out. The node is named max_pool2d.
tensor relu_max_pool2d(const tensor& x, const ops::max_pool2d_options& options);

// Whether conv2d_relu_max_pool2d takes this convolution and pooling for an input of this shape
// ([N, C, H, W]): ops::conv_relu_max_pool2d::fits, the graph face's condition for its fused node
// (a convolution of few taps with stride 1, or one Winograd runs, and a 2x2 pooling of stride 2
// over an even output).
bool conv2d_relu_max_pool2d_fits(const ops::conv2d_options& conv, const ops::max_pool2d_options& pool,
                                 const sizes& input);

// max_pool2d(relu(conv2d(x, w, b))) as one op, ops::conv_relu_max_pool2d (the graph face's fused
// node): the convolution's full-size output, the relu's and their gradients are never written
// (where the fused passes run: kernels/conv_relu_pool.hpp, kernels/winograd/pool.hpp), and the
// values are those of the three ops; the gradients too, summed in another order. Only where
// conv2d_relu_max_pool2d_fits. Its node is named conv2d_relu_max_pool2d.
tensor conv2d_relu_max_pool2d(const tensor& x, const tensor& w, const tensor& b,
                              const ops::conv2d_options& conv, const ops::max_pool2d_options& pool);

}  // namespace katachi::eager::detail
