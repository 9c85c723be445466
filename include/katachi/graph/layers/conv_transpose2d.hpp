// katachi/graph/layers/conv_transpose2d.hpp: conv_transpose2d<OutChannels, Kernel, options...> on
// shape<C, H, W>.
//
// The op is katachi/ops/conv_transpose2d.hpp (PyTorch's nn.ConvTranspose2d: weight
// [C, Out / g, kh, kw], bias [Out]); this is its short spelling. Options: stride<s>, padding<p>,
// output_padding<o>, dilation<d>, groups<g>, bias<false>.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/conv_transpose2d.hpp>

namespace katachi::graph {

template <std::size_t OutChannels, std::size_t Kernel, detail::layer_option... Options>
struct conv_transpose2d
    : basic_layer<conv_transpose2d<OutChannels, Kernel, Options...>, ops::conv_transpose2d,
                  ops::conv_transpose2d_options{
                      .out_channels = OutChannels,
                      .kernel_size = Kernel,
                      .stride = detail::size2_option<stride, Options...>({1, 1}),
                      .padding = detail::size2_option<padding, Options...>({0, 0}),
                      .output_padding = detail::size2_option<output_padding, Options...>({0, 0}),
                      .dilation = detail::size2_option<dilation, Options...>({1, 1}),
                      .groups = detail::groups_option<Options...>(),
                      .bias = detail::bias_option<Options...>()}> {};

}  // namespace katachi::graph
