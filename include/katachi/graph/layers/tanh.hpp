// katachi/graph/layers/tanh.hpp: tanh, the short spelling of katachi/ops/tanh.hpp.
#pragma once

#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/tanh.hpp>

namespace katachi::graph {

struct tanh : basic_layer<tanh, ops::tanh, ops::tanh_options{}> {};

}  // namespace katachi::graph
