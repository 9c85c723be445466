// katachi/graph/layers/avg_pool2d.hpp: avg_pool2d<Kernel, options...> on shape<C, H, W>.
//
// The op is katachi/ops/avg_pool2d.hpp (PyTorch's nn.AvgPool2d); this is its short spelling.
// Options: stride<s> (default: the kernel size), padding<p>, ceil_mode<true>,
// count_include_pad<false> (padding counts in the divisor by default, as in PyTorch),
// divisor_override<n>.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/avg_pool2d.hpp>

namespace katachi::graph {

template <std::size_t Kernel, detail::layer_option... Options>
struct avg_pool2d
    : basic_layer<avg_pool2d<Kernel, Options...>, ops::avg_pool2d,
                  ops::avg_pool2d_options{
                      .kernel_size = Kernel,
                      .stride = detail::size2_option<stride, Options...>({Kernel, Kernel}),
                      .padding = detail::size2_option<padding, Options...>({0, 0}),
                      .ceil_mode = detail::flag_option<ceil_mode, Options...>(false),
                      .count_include_pad = detail::flag_option<count_include_pad, Options...>(true),
                      .divisor_override = detail::divisor_option<Options...>()}> {};

}  // namespace katachi::graph
