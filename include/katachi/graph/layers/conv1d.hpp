// katachi/graph/layers/conv1d.hpp: conv1d<OutChannels, Kernel, options...> on shape<C, L>.
//
// Options: stride<s>, padding<p>, dilation<d> (one value), groups<g>, bias<false>. PyTorch's
// nn.Conv1d: weight [Out, C / g, k], bias [Out], both uniform in +-1 / sqrt(C / g * k).
#pragma once

#include <cmath>
#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/conv2d.hpp>
#include <katachi/kernels/conv1d.hpp>

namespace katachi::graph {

template <std::size_t OutChannels, std::size_t Kernel, detail::layer_option... Options>
struct conv1d {
    static constexpr std::size_t s = detail::pair_option<stride, Options...>({1, 1})[0];
    static constexpr std::size_t p = detail::pair_option<padding, Options...>({0, 0})[0];
    static constexpr std::size_t d = detail::pair_option<dilation, Options...>({1, 1})[0];
    static constexpr std::size_t group_count = detail::groups_option<Options...>();
    static constexpr bool has_bias = detail::bias_option<Options...>();
    static constexpr kernels::conv1d_options options{
        .stride = s, .padding = p, .dilation = d, .groups = group_count};

    static std::string name() {
        return "conv1d<" + std::to_string(OutChannels) + ", " + std::to_string(Kernel) +
               detail::pair_text("stride", {s, s}, {1, 1}) + detail::pair_text("padding", {p, p}, {0, 0}) +
               detail::pair_text("dilation", {d, d}, {1, 1}) +
               (group_count == 1 ? "" : ", groups<" + std::to_string(group_count) + ">") +
               (has_bias ? "" : ", bias<false>") + ">";
    }

    template <class In>
    static constexpr auto infer(In) {
        if constexpr (In::rank != 2) {
            return rejected<conv1d, In, sequence_shape>{};
        } else {
            constexpr auto l = detail::conv_dim_output(In::dims[1], Kernel, s, p, d);
            if constexpr (In::dims[0] % group_count != 0 || OutChannels % group_count != 0)
                return rejected<conv1d, In, channel_count<group_count>>{};
            else if constexpr (l.error == size_error::kernel_larger_than_input)
                return rejected<conv1d, In, padded_input_at_least<d*(Kernel - 1) + 1>>{};
            else if constexpr (!l.ok() || l.value == 0)
                return rejected<conv1d, In, non_empty_output>{};
            else
                return shape<OutChannels, l.value>{};
        }
    }

    template <class In>
    struct bind : bind_defaults {
        using output_shape = decltype(infer(In{}));
        static constexpr std::array<std::size_t, 3> weight_dims{OutChannels, In::dims[0] / group_count,
                                                                Kernel};
        static constexpr std::size_t weight_size = weight_dims[0] * weight_dims[1] * weight_dims[2];
        static constexpr std::array<tensor_spec, has_bias ? 2 : 1> parameters = [] {
            if constexpr (has_bias)
                return std::array{tensor_spec{"weight", 3, {weight_dims[0], weight_dims[1], Kernel}},
                                  tensor_spec{"bias", 1, {OutChannels}}};
            else
                return std::array{tensor_spec{"weight", 3, {weight_dims[0], weight_dims[1], Kernel}}};
        }();
        static constexpr std::size_t workspace_size(std::size_t batch) {
            return detail::conv_workspace_bound(weight_dims[1] * Kernel, OutChannels / group_count,
                                                OutChannels, output_shape::dims[1], batch,
                                                Kernel == 1 && s == 1 && p == 0);
        }

        template <class T>
        static void reset(T* w, T*, generator& gen) {
            const double bound = 1.0 / std::sqrt(static_cast<double>(weight_dims[1] * Kernel));
            uniform_fill(w, weight_size, bound, gen);
            if constexpr (has_bias) uniform_fill(w + weight_size, OutChannels, bound, gen);
        }

        template <class T>
        static void forward(const layer_args<T>& a) {
            const std::span<T> ws(a.workspace, workspace_size(a.batch));
            const auto w = fixed_view(a.params, weight_dims);
            if constexpr (has_bias)
                kernels::conv1d_forward(batch_view<In>(a.x[0], a.batch), w,
                                        fixed_view(a.params + weight_size, std::array{OutChannels}),
                                        batch_view<output_shape>(a.y, a.batch), options, ws);
            else
                kernels::conv1d_forward(batch_view<In>(a.x[0], a.batch), w, kernels::none,
                                        batch_view<output_shape>(a.y, a.batch), options, ws);
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            const std::span<T> ws(a.workspace, workspace_size(a.batch));
            const auto x = batch_view<In>(a.x[0], a.batch);
            const auto dy = batch_view<output_shape>(a.dy, a.batch);
            const auto w = fixed_view(a.params, weight_dims);
            if (a.dparams) {
                if constexpr (has_bias)
                    kernels::conv1d_backward(x, w, dy, kernels::none, fixed_view(a.dparams, weight_dims),
                                             fixed_view(a.dparams + weight_size, std::array{OutChannels}),
                                             options, ws, a.dparams_mode);
                else
                    kernels::conv1d_backward(x, w, dy, kernels::none, fixed_view(a.dparams, weight_dims),
                                             kernels::none, options, ws, a.dparams_mode);
            }
            if (a.dx[0])
                kernels::conv1d_backward(x, w, dy, batch_view<In>(a.dx[0], a.batch), kernels::none,
                                         kernels::none, options, ws, a.dx_mode[0]);
        }
    };
};

}  // namespace katachi::graph
