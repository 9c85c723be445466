// katachi/graph/layers/adaptive_avg_pool2d.hpp: adaptive_avg_pool2d<H, W> maps shape<C, h, w> to
// shape<C, H, W> with PyTorch's adaptive windows. The op is katachi/ops/adaptive_avg_pool2d.hpp.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/adaptive_avg_pool2d.hpp>

namespace katachi::graph {

template <std::size_t H, std::size_t W = H>
struct adaptive_avg_pool2d : basic_layer<adaptive_avg_pool2d<H, W>, ops::adaptive_avg_pool2d,
                                         ops::adaptive_avg_pool2d_options{.output_size = {H, W}}> {};

}  // namespace katachi::graph
