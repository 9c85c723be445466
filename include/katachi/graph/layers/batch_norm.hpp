// katachi/graph/layers/batch_norm.hpp: batch_norm1d on shape<C> or shape<C, L>, batch_norm2d on
// shape<C, H, W>; normalised per channel C. sync_batch_norm1d and sync_batch_norm2d are the same
// with the statistics of every rank's batch in training (PyTorch's nn.SyncBatchNorm), through the
// cross-rank sum distributed::context installs; in one process they are batch_norm1d/2d.
//
// The op is katachi/ops/batch_norm.hpp; these are its spellings with PyTorch's defaults (eps 1e-5,
// momentum 0.1, affine, tracking running statistics). Other options go through layer<>:
//   layer<ops::batch_norm2d, ops::batch_norm_options{.eps = 1e-3, .momentum = std::nullopt}>
//   layer<ops::batch_norm2d, ops::batch_norm_options{.eps = 1e-3, .sync = true}>
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/batch_norm.hpp>

namespace katachi::graph {

struct batch_norm1d : basic_layer<batch_norm1d, ops::batch_norm1d, ops::batch_norm_options{}> {};
struct batch_norm2d : basic_layer<batch_norm2d, ops::batch_norm2d, ops::batch_norm_options{}> {};

struct sync_batch_norm1d
    : basic_layer<sync_batch_norm1d, ops::batch_norm1d, ops::batch_norm_options{.sync = true}> {
    static constexpr ops::text spelling() { return ops::text("sync_batch_norm1d"); }
};
struct sync_batch_norm2d
    : basic_layer<sync_batch_norm2d, ops::batch_norm2d, ops::batch_norm_options{.sync = true}> {
    static constexpr ops::text spelling() { return ops::text("sync_batch_norm2d"); }
};

}  // namespace katachi::graph
