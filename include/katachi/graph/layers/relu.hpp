// katachi/graph/layers/relu.hpp: relu, the short spelling of katachi/ops/relu.hpp. A max pooling
// right after it that is its only reader takes it in (graph/fusion.hpp).
#pragma once

#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/relu.hpp>

namespace katachi::graph {

struct relu : basic_layer<relu, ops::relu, ops::relu_options{}> {};

}  // namespace katachi::graph
