// katachi/graph/layers/conv2d.hpp: conv2d<OutChannels, Kernel, options...> on shape<C, H, W>.
//
// Options: stride<s>, padding<p>, dilation<d> (each <h, w> or one value for both), groups<g>,
// bias<false>. PyTorch's nn.Conv2d: weight [Out, C / g, kh, kw], bias [Out], both uniform in
// +-1 / sqrt(C / g * kh * kw). The output size is katachi::conv_output per spatial dimension.
#pragma once

#include <cmath>
#include <katachi/graph/layer.hpp>
#include <katachi/kernels/conv2d.hpp>

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
struct conv2d {
    static constexpr std::array<std::size_t, 2> kernel{Kernel, Kernel};
    static constexpr auto strides = detail::pair_option<stride, Options...>({1, 1});
    static constexpr auto pads = detail::pair_option<padding, Options...>({0, 0});
    static constexpr auto dilations = detail::pair_option<dilation, Options...>({1, 1});
    static constexpr std::size_t group_count = detail::groups_option<Options...>();
    static constexpr bool has_bias = detail::bias_option<Options...>();
    static constexpr kernels::conv2d_options options{
        .stride = strides, .padding = pads, .dilation = dilations, .groups = group_count};

    static std::string name() {
        return "conv2d<" + std::to_string(OutChannels) + ", " + std::to_string(Kernel) +
               detail::pair_text("stride", strides, {1, 1}) + detail::pair_text("padding", pads, {0, 0}) +
               detail::pair_text("dilation", dilations, {1, 1}) +
               (group_count == 1 ? "" : ", groups<" + std::to_string(group_count) + ">") +
               (has_bias ? "" : ", bias<false>") + ">";
    }

    template <class In>
    static constexpr auto infer(In) {
        if constexpr (In::rank != 3) {
            return rejected<conv2d, In, image_shape>{};
        } else {
            constexpr auto h =
                detail::conv_dim_output(In::dims[1], kernel[0], strides[0], pads[0], dilations[0]);
            constexpr auto w =
                detail::conv_dim_output(In::dims[2], kernel[1], strides[1], pads[1], dilations[1]);
            if constexpr (In::dims[0] % group_count != 0 || OutChannels % group_count != 0)
                return rejected<conv2d, In, channel_count<group_count>>{};
            else if constexpr (h.error == size_error::kernel_larger_than_input ||
                               w.error == size_error::kernel_larger_than_input)
                return rejected<conv2d, In,
                                padded_input_at_least<dilations[0] * (kernel[0] - 1) + 1,
                                                      dilations[1] * (kernel[1] - 1) + 1>>{};
            else if constexpr (!h.ok() || !w.ok() || h.value == 0 || w.value == 0)
                return rejected<conv2d, In, non_empty_output>{};
            else
                return shape<OutChannels, h.value, w.value>{};
        }
    }

    template <class In>
    struct bind : bind_defaults {
        static constexpr std::size_t channels = In::dims[0];
        using output_shape = decltype(infer(In{}));
        static constexpr std::array<std::size_t, 4> weight_dims{OutChannels, channels / group_count,
                                                                kernel[0], kernel[1]};
        static constexpr std::size_t weight_size =
            weight_dims[0] * weight_dims[1] * weight_dims[2] * weight_dims[3];
        static constexpr std::array<tensor_spec, has_bias ? 2 : 1> parameters = [] {
            if constexpr (has_bias)
                return std::array{tensor_spec{"weight", 4, weight_dims},
                                  tensor_spec{"bias", 1, {OutChannels}}};
            else
                return std::array{tensor_spec{"weight", 4, weight_dims}};
        }();
        // Winograd's scratch when the kernel takes that path at this batch (the same rule and size
        // the kernel uses), else the im2col bound.
        static constexpr bool winograd_applies =
            kernels::detail::winograd_applies(kernel[0], kernel[1], strides[0], strides[1], dilations[0],
                                              dilations[1], group_count, pads[0], pads[1]);
        static constexpr std::size_t workspace_size(std::size_t batch) {
            const kernels::detail::winograd_shape s{.batch = batch,
                                                    .channels = channels,
                                                    .height = In::dims[1],
                                                    .width = In::dims[2],
                                                    .out_channels = OutChannels,
                                                    .out_height = output_shape::dims[1],
                                                    .out_width = output_shape::dims[2],
                                                    .pad_h = pads[0],
                                                    .pad_w = pads[1]};
            if (winograd_applies && kernels::detail::winograd_pays(s))
                return kernels::detail::winograd_workspace_size(s);
            constexpr std::size_t positions = output_shape::dims[1] * output_shape::dims[2];
            constexpr bool pointwise = kernel[0] == 1 && kernel[1] == 1 && strides[0] == 1 &&
                                       strides[1] == 1 && pads[0] == 0 && pads[1] == 0;
            return detail::conv_workspace_bound(weight_dims[1] * kernel[0] * kernel[1],
                                                OutChannels / group_count, OutChannels, positions, batch,
                                                pointwise);
        }

        template <class T>
        static void reset(T* p, T*, generator& gen) {
            const double bound = 1.0 / std::sqrt(static_cast<double>(weight_dims[1] * kernel[0] * kernel[1]));
            uniform_fill(p, weight_size, bound, gen);
            if constexpr (has_bias) uniform_fill(p + weight_size, OutChannels, bound, gen);
        }

        // The kernel's geometry for a batch, without the kernel's checks: the types made them.
        static kernels::detail::conv_geometry geometry(std::size_t batch) {
            return kernels::detail::conv2d_geometry_unchecked({batch, In::dims[0], In::dims[1], In::dims[2]},
                                                              weight_dims, options, output_shape::dims[1],
                                                              output_shape::dims[2]);
        }

        // The kernel's forward on pointers (kernels::detail::convolve_forward), in the workspace the
        // model sized for this layer: no check, no message, no heap (a device runs this).
        template <class T>
        static void forward(const layer_args<T>& a) {
            const T* bias = has_bias ? a.params + weight_size : nullptr;
            kernels::detail::convolve_forward<T>(geometry(a.batch), a.x[0], a.params, bias, a.y, a.workspace);
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            const auto x = batch_view<In>(a.x[0], a.batch);
            const auto dy = batch_view<output_shape>(a.dy, a.batch);
            const auto w = fixed_view(a.params, weight_dims);
            const std::span<T> ws(a.workspace, workspace_size(a.batch));
            if (a.dparams) {
                auto dw = fixed_view(a.dparams, weight_dims);
                if constexpr (has_bias)
                    kernels::conv2d_backward(x, w, dy, kernels::none, dw,
                                             fixed_view(a.dparams + weight_size, std::array{OutChannels}),
                                             options, ws, a.dparams_mode);
                else
                    kernels::conv2d_backward(x, w, dy, kernels::none, dw, kernels::none, options, ws,
                                             a.dparams_mode);
            }
            if (a.dx[0])
                kernels::conv2d_backward(x, w, dy, batch_view<In>(a.dx[0], a.batch), kernels::none,
                                         kernels::none, options, ws, a.dx_mode[0]);
        }
    };
};

}  // namespace katachi::graph
