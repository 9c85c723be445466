// katachi/graph/layers/concat.hpp: concat joins two inputs along their channels (dimension 0 of a
// sample, 1 of the batch): shape<C1, D...> and shape<C2, D...> give shape<C1 + C2, D...>. The op
// is katachi/ops/concat.hpp.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/concat.hpp>

namespace katachi::graph {

struct concat : basic_layer<concat, ops::concat, ops::concat_options{}> {};

}  // namespace katachi::graph
