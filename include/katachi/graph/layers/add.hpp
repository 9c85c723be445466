// katachi/graph/layers/add.hpp: add sums two inputs of one shape (a residual connection); its
// backward hands the gradient to both. The op is katachi/ops/add.hpp.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/add.hpp>

namespace katachi::graph {

struct add : basic_layer<add, ops::add, ops::add_options{}> {};

}  // namespace katachi::graph
