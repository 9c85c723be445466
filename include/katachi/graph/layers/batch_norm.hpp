// katachi/graph/layers/batch_norm.hpp: batch_norm1d on shape<C> or shape<C, L>, batch_norm2d on
// shape<C, H, W>; normalised per channel C.
//
// The op is katachi/ops/batch_norm.hpp; these are its spellings with PyTorch's defaults (eps 1e-5,
// momentum 0.1, affine, tracking running statistics). Other options go through layer<>:
//   layer<ops::batch_norm2d, ops::batch_norm_options{.eps = 1e-3, .momentum = std::nullopt}>
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/batch_norm.hpp>

namespace katachi::graph {

struct batch_norm1d : basic_layer<batch_norm1d, ops::batch_norm1d, ops::batch_norm_options{}> {};
struct batch_norm2d : basic_layer<batch_norm2d, ops::batch_norm2d, ops::batch_norm_options{}> {};

}  // namespace katachi::graph
