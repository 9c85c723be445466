// katachi/graph/layers/conv2d.hpp: conv2d<OutChannels, Kernel, options...> on shape<C, H, W>.
//
// The op is katachi/ops/conv2d.hpp (PyTorch's nn.Conv2d: weight [Out, C / g, kh, kw], bias [Out],
// both uniform in +-1 / sqrt(C / g * kh * kw)); this is its short spelling. Options: stride<s>,
// padding<p>, dilation<d> (each <h, w> or one value for both), groups<g>, bias<false>.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/kernels/conv2d.hpp>
#include <katachi/ops/conv2d.hpp>

namespace katachi::graph {

template <std::size_t OutChannels, std::size_t Kernel, detail::layer_option... Options>
struct conv2d : basic_layer<conv2d<OutChannels, Kernel, Options...>, ops::conv2d,
                            ops::conv2d_options{.out_channels = OutChannels,
                                                .kernel_size = Kernel,
                                                .stride = detail::size2_option<stride, Options...>({1, 1}),
                                                .padding = detail::size2_option<padding, Options...>({0, 0}),
                                                .dilation = detail::size2_option<dilation, Options...>({1, 1}),
                                                .groups = detail::groups_option<Options...>(),
                                                .bias = detail::bias_option<Options...>()}> {};

}  // namespace katachi::graph
