// katachi/graph/layers/conv_transpose2d.hpp: conv_transpose2d<OutChannels, Kernel, options...> on
// shape<C, H, W>.
//
// Options: stride<s>, padding<p>, output_padding<o>, dilation<d>, groups<g>, bias<false>. PyTorch's
// nn.ConvTranspose2d: weight [C, Out / g, kh, kw], bias [Out], both uniform in
// +-1 / sqrt(Out / g * kh * kw) (PyTorch computes fan_in from the weight's second dimension).
#pragma once

#include <cmath>
#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/conv2d.hpp>
#include <katachi/kernels/conv_transpose2d.hpp>

namespace katachi::graph {

template <std::size_t OutChannels, std::size_t Kernel, detail::layer_option... Options>
struct conv_transpose2d {
    static constexpr std::array<std::size_t, 2> kernel{Kernel, Kernel};
    static constexpr auto strides = detail::pair_option<stride, Options...>({1, 1});
    static constexpr auto pads = detail::pair_option<padding, Options...>({0, 0});
    static constexpr auto out_pads = detail::pair_option<output_padding, Options...>({0, 0});
    static constexpr auto dilations = detail::pair_option<dilation, Options...>({1, 1});
    static constexpr std::size_t group_count = detail::groups_option<Options...>();
    static constexpr bool has_bias = detail::bias_option<Options...>();
    static constexpr kernels::conv_transpose2d_options options{.stride = strides,
                                                               .padding = pads,
                                                               .output_padding = out_pads,
                                                               .dilation = dilations,
                                                               .groups = group_count};

    static std::string name() {
        return "conv_transpose2d<" + std::to_string(OutChannels) + ", " + std::to_string(Kernel) +
               detail::pair_text("stride", strides, {1, 1}) + detail::pair_text("padding", pads, {0, 0}) +
               detail::pair_text("output_padding", out_pads, {0, 0}) +
               detail::pair_text("dilation", dilations, {1, 1}) +
               (group_count == 1 ? "" : ", groups<" + std::to_string(group_count) + ">") +
               (has_bias ? "" : ", bias<false>") + ">";
    }

    template <class In>
    static constexpr auto infer(In) {
        if constexpr (In::rank != 3) {
            return rejected<conv_transpose2d, In, image_shape>{};
        } else {
            constexpr auto h = conv_transpose_output({.input = In::dims[1],
                                                      .kernel = kernel[0],
                                                      .stride = strides[0],
                                                      .padding = pads[0],
                                                      .output_padding = out_pads[0],
                                                      .dilation = dilations[0]});
            constexpr auto w = conv_transpose_output({.input = In::dims[2],
                                                      .kernel = kernel[1],
                                                      .stride = strides[1],
                                                      .padding = pads[1],
                                                      .output_padding = out_pads[1],
                                                      .dilation = dilations[1]});
            if constexpr (In::dims[0] % group_count != 0 || OutChannels % group_count != 0)
                return rejected<conv_transpose2d, In, channel_count<group_count>>{};
            else if constexpr (!h.ok() || !w.ok() || h.value == 0 || w.value == 0)
                return rejected<conv_transpose2d, In, non_empty_output>{};
            else
                return shape<OutChannels, h.value, w.value>{};
        }
    }

    template <class In>
    struct bind : bind_defaults {
        using output_shape = decltype(infer(In{}));
        static constexpr std::array<std::size_t, 4> weight_dims{In::dims[0], OutChannels / group_count,
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
        // The adjoint conv2d runs from the output's side: its im2col matrix has the input's positions.
        static constexpr std::size_t workspace_size(std::size_t batch) {
            return detail::conv_workspace_bound(weight_dims[1] * kernel[0] * kernel[1],
                                                In::dims[0] / group_count, In::dims[0],
                                                In::dims[1] * In::dims[2], batch, false);
        }

        template <class T>
        static void reset(T* p, T*, generator& gen) {
            const double bound = 1.0 / std::sqrt(static_cast<double>(weight_dims[1] * kernel[0] * kernel[1]));
            uniform_fill(p, weight_size, bound, gen);
            if constexpr (has_bias) uniform_fill(p + weight_size, OutChannels, bound, gen);
        }

        template <class T>
        static void forward(const layer_args<T>& a) {
            const std::span<T> ws(a.workspace, workspace_size(a.batch));
            const auto x = batch_view<In>(a.x[0], a.batch);
            auto y = batch_view<output_shape>(a.y, a.batch);
            if constexpr (has_bias)
                kernels::conv_transpose2d_forward(x, fixed_view(a.params, weight_dims),
                                                  fixed_view(a.params + weight_size, std::array{OutChannels}),
                                                  y, options, ws);
            else
                kernels::conv_transpose2d_forward(x, fixed_view(a.params, weight_dims), kernels::none, y,
                                                  options, ws);
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            const std::span<T> ws(a.workspace, workspace_size(a.batch));
            const auto x = batch_view<In>(a.x[0], a.batch);
            const auto dy = batch_view<output_shape>(a.dy, a.batch);
            const auto w = fixed_view(a.params, weight_dims);
            if (a.dparams) {
                if constexpr (has_bias)
                    kernels::conv_transpose2d_backward(
                        x, w, dy, kernels::none, fixed_view(a.dparams, weight_dims),
                        fixed_view(a.dparams + weight_size, std::array{OutChannels}), options, ws,
                        a.dparams_mode);
                else
                    kernels::conv_transpose2d_backward(x, w, dy, kernels::none,
                                                       fixed_view(a.dparams, weight_dims), kernels::none,
                                                       options, ws, a.dparams_mode);
            }
            if (a.dx[0])
                kernels::conv_transpose2d_backward(x, w, dy, batch_view<In>(a.dx[0], a.batch), kernels::none,
                                                   kernels::none, options, ws, a.dx_mode[0]);
        }
    };
};

}  // namespace katachi::graph
