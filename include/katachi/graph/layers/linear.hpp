// katachi/graph/layers/linear.hpp: linear<Out> maps shape<in> to shape<Out>; in is deduced.
//
// The op is katachi/ops/linear.hpp (PyTorch's nn.Linear: weight [Out, in], bias [Out], both
// uniform in +-1 / sqrt(in)); this is its short spelling. bias<false> drops the bias.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/linear.hpp>

namespace katachi::graph {

template <std::size_t Out, detail::layer_option... Options>
struct linear : basic_layer<linear<Out, Options...>, ops::linear,
                            ops::linear_options{.out_features = Out, .bias = detail::bias_option<Options...>()}> {
    static_assert(Out > 0, "linear<N> needs at least one output feature");
};

}  // namespace katachi::graph
