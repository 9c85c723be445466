// katachi/graph/layers/leaky_relu.hpp: leaky_relu<Num, Den> with negative slope Num / Den (default
// 1 / 100, PyTorch's 0.01), the short spelling of katachi/ops/leaky_relu.hpp. Any slope:
// layer<ops::leaky_relu, ops::leaky_relu_options{.negative_slope = 0.2}>.
#pragma once

#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/leaky_relu.hpp>

namespace katachi::graph {

template <std::size_t Num = 1, std::size_t Den = 100>
struct leaky_relu : basic_layer<leaky_relu<Num, Den>, ops::leaky_relu,
                                ops::leaky_relu_options{.negative_slope = static_cast<double>(Num) /
                                                                          static_cast<double>(Den)}> {
    static_assert(Den > 0, "leaky_relu<Num, Den> needs Den > 0");
    static constexpr double slope = static_cast<double>(Num) / static_cast<double>(Den);
    static constexpr ops::text spelling() { return ops::text() << "leaky_relu<" << Num << ", " << Den << ">"; }
};

}  // namespace katachi::graph
