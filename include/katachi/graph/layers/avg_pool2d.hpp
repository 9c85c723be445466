// katachi/graph/layers/avg_pool2d.hpp: avg_pool2d<Kernel, options...> on shape<C, H, W>.
//
// Options: stride<s> (default: the kernel size), padding<p>; padding counts in the divisor, as in
// PyTorch's default count_include_pad=True.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/max_pool2d.hpp>
#include <katachi/kernels/avg_pool2d.hpp>

namespace katachi::graph {

template <std::size_t Kernel, detail::layer_option... Options>
struct avg_pool2d {
    static constexpr std::array<std::size_t, 2> kernel{Kernel, Kernel};
    static constexpr auto strides = detail::pair_option<stride, Options...>(kernel);
    static constexpr auto pads = detail::pair_option<padding, Options...>({0, 0});
    static constexpr kernels::avg_pool2d_options options{
        .kernel_size = kernel, .stride = strides, .padding = pads};

    static std::string name() {
        return "avg_pool2d<" + std::to_string(Kernel) + detail::pair_text("stride", strides, kernel) +
               detail::pair_text("padding", pads, {0, 0}) + ">";
    }

    template <class In>
    static constexpr auto infer(In) {
        return detail::pool2d_infer<avg_pool2d, In, kernel, strides, pads,
                                    std::array<std::size_t, 2>{1, 1}>();
    }

    template <class In>
    struct bind : bind_defaults {
        using output_shape = decltype(infer(In{}));

        template <class T>
        static void forward(const layer_args<T>& a) {
            kernels::avg_pool2d_forward(batch_view<In>(a.x[0], a.batch),
                                        batch_view<output_shape>(a.y, a.batch), options);
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            if (a.dx[0])
                kernels::avg_pool2d_backward(batch_view<output_shape>(a.dy, a.batch),
                                             batch_view<In>(a.dx[0], a.batch), options, a.dx_mode[0]);
        }
    };
};

}  // namespace katachi::graph
