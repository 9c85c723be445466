// katachi/graph/layers/gelu.hpp: gelu (exact, PyTorch's default) and gelu_tanh
// (approximate='tanh'), the short spellings of katachi/ops/gelu.hpp.
#pragma once

#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/gelu.hpp>

namespace katachi::graph {

template <kernels::gelu_approximate Approximate>
struct basic_gelu : basic_layer<basic_gelu<Approximate>, ops::gelu, ops::gelu_options{.approximate = Approximate}> {};

using gelu = basic_gelu<kernels::gelu_approximate::none>;
using gelu_tanh = basic_gelu<kernels::gelu_approximate::tanh>;

}  // namespace katachi::graph
