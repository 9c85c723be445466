// katachi/graph/layers/dropout.hpp: dropout<Num, Den> drops with probability Num / Den (default
// 1 / 2), the short spelling of katachi/ops/dropout.hpp; the identity in evaluation. Any
// probability: layer<ops::dropout, ops::dropout_options{.p = 0.1}>.
#pragma once

#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/dropout.hpp>

namespace katachi::graph {

template <std::size_t Num = 1, std::size_t Den = 2>
struct dropout
    : basic_layer<dropout<Num, Den>, ops::dropout,
                  ops::dropout_options{.p = (Den > 0 ? static_cast<double>(Num) / static_cast<double>(Den) : 0.0)}> {
    static_assert(Den > 0 && Num <= Den, "dropout<Num, Den> needs a probability Num / Den in [0, 1]");
    static constexpr double p = static_cast<double>(Num) / static_cast<double>(Den);
    static constexpr ops::text spelling() { return ops::text() << "dropout<" << Num << ", " << Den << ">"; }
};

}  // namespace katachi::graph
