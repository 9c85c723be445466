// katachi/graph/layers/sigmoid.hpp: sigmoid, the short spelling of katachi/ops/sigmoid.hpp.
#pragma once

#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/sigmoid.hpp>

namespace katachi::graph {

struct sigmoid : basic_layer<sigmoid, ops::sigmoid, ops::sigmoid_options{}> {};

}  // namespace katachi::graph
