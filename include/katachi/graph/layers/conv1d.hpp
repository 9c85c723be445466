// katachi/graph/layers/conv1d.hpp: conv1d<OutChannels, Kernel, options...> on shape<C, L>.
//
// The op is katachi/ops/conv1d.hpp (PyTorch's nn.Conv1d: weight [Out, C / g, k], bias [Out], both
// uniform in +-1 / sqrt(C / g * k)); this is its short spelling. Options: stride<s>, padding<p>,
// dilation<d> (one value), groups<g>, bias<false>.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/conv1d.hpp>

namespace katachi::graph {

template <std::size_t OutChannels, std::size_t Kernel, detail::layer_option... Options>
struct conv1d : basic_layer<conv1d<OutChannels, Kernel, Options...>, ops::conv1d,
                            ops::conv1d_options{.out_channels = OutChannels,
                                                .kernel_size = Kernel,
                                                .stride = detail::pair_option<stride, Options...>({1, 1})[0],
                                                .padding = detail::pair_option<padding, Options...>({0, 0})[0],
                                                .dilation = detail::pair_option<dilation, Options...>({1, 1})[0],
                                                .groups = detail::groups_option<Options...>(),
                                                .bias = detail::bias_option<Options...>()}> {};

}  // namespace katachi::graph
