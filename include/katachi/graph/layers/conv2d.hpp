// katachi/graph/layers/conv2d.hpp: conv2d<OutChannels, Kernel, options...> on shape<C, H, W>.
//
// The op is katachi/ops/conv2d.hpp (PyTorch's nn.Conv2d: weight [Out, C / g, kh, kw], bias [Out],
// both uniform in +-1 / sqrt(C / g * kh * kw)); this is its short spelling. Options: stride<s>,
// padding<p>, dilation<d> (each <h, w> or one value for both), groups<g>, bias<false>.
// (conv_dim_output and conv_workspace_bound below serve conv1d and conv_transpose2d.)
#pragma once

#include <cmath>
#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/kernels/conv2d.hpp>
#include <katachi/ops/conv2d.hpp>

namespace katachi::graph {

namespace detail {

// The conv2d-shaped sizes of one spatial dimension, or the rule they break.
constexpr size_result conv_dim_output(std::size_t in, std::size_t k, std::size_t s, std::size_t p,
                                      std::size_t d) {
    return conv_output({.input = in, .kernel = k, .stride = s, .padding = p, .dilation = d});
}

// An upper bound of kernels::conv2d_workspace_size for a batch on the im2col path, in constant
// expressions (the kernel's own function is a run-time one): the im2col matrix of at most
// max(positions, 256) columns with a row to spare, their gathered columns when samples share a GEMM,
// and a weight-sized block. The kernel checks the span it is given, so a bound that fell short would
// throw, not overrun; test_graph_runtime runs every layer at several batch sizes.
constexpr std::size_t conv_workspace_bound(std::size_t patch, std::size_t group_out, std::size_t out_channels,
                                           std::size_t positions, std::size_t batch, bool pointwise) {
    if (pointwise || positions == 0) return 0;
    const std::size_t per_gemm = positions >= 256 ? 1 : std::min<std::size_t>(256 / positions, batch);
    const std::size_t width = (per_gemm == 0 ? 1 : per_gemm) * positions;
    return (patch + 1) * width + (per_gemm > 1 ? group_out * width : 0) + out_channels * (patch + 1);
}

}  // namespace detail

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
