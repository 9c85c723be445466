// src/eager/ops/fused.hpp: ops that the eager containers run in place of a pair of layers (not
// installed). Each gives the same values and gradients as the pair.
#pragma once

#include "katachi/eager/tensor.hpp"
#include "katachi/ops/max_pool2d.hpp"

namespace katachi::eager::detail {

// max_pool2d(relu(x)) as one op, the graph face's relu_max_pool2d (katachi/graph/fusion.hpp says
// why it is exact): the pooling reads x, the relu is applied to the pooled values, and the
// backward passes a gradient only where the pooled value is positive. The relu's two full-size
// passes and its output are left out. The node is named max_pool2d.
tensor relu_max_pool2d(const tensor& x, const ops::max_pool2d_options& options);

}  // namespace katachi::eager::detail
