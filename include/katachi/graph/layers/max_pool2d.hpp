// katachi/graph/layers/max_pool2d.hpp: max_pool2d<Kernel, options...> on shape<C, H, W>.
//
// The op is katachi/ops/max_pool2d.hpp (PyTorch's nn.MaxPool2d); this is its short spelling.
// Options: stride<s> (default: the kernel size, as in PyTorch), padding<p>, dilation<d>,
// ceil_mode<true>. A relu right before it is taken in (graph/fusion.hpp).
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/max_pool2d.hpp>

namespace katachi::graph {

template <std::size_t Kernel, detail::layer_option... Options>
struct max_pool2d
    : basic_layer<max_pool2d<Kernel, Options...>, ops::max_pool2d,
                  ops::max_pool2d_options{.kernel_size = Kernel,
                                          .stride = detail::size2_option<stride, Options...>({Kernel, Kernel}),
                                          .padding = detail::size2_option<padding, Options...>({0, 0}),
                                          .dilation = detail::size2_option<dilation, Options...>({1, 1}),
                                          .ceil_mode = detail::flag_option<ceil_mode, Options...>(false)}> {};

}  // namespace katachi::graph
