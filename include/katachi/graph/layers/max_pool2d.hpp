// katachi/graph/layers/max_pool2d.hpp: max_pool2d<Kernel, options...> on shape<C, H, W>.
//
// Options: stride<s> (default: the kernel size, as in PyTorch), padding<p>, dilation<d>. The
// forward keeps, per output, where its maximum came from for the backward (not in inference_model):
// for the 2x2 pooling with stride 2 its window position, one byte (kernels::max_pool2d_forward with
// std::uint8_t indices), else its flat index, an int64.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/kernels/max_pool2d.hpp>

namespace katachi::graph {

namespace detail {

// The output of one pooled dimension, or the shape_error expectation it breaks.
constexpr size_result pool_dim_output(std::size_t in, std::size_t k, std::size_t s, std::size_t p,
                                      std::size_t d) {
    return pool_output({.input = in, .kernel = k, .stride = s, .padding = p, .dilation = d});
}

// The shape rule shared by max_pool2d and avg_pool2d.
template <class Layer, class In, std::array<std::size_t, 2> K, std::array<std::size_t, 2> S,
          std::array<std::size_t, 2> P, std::array<std::size_t, 2> D>
constexpr auto pool2d_infer() {
    if constexpr (In::rank != 3) {
        return rejected<Layer, In, image_shape>{};
    } else {
        constexpr auto h = pool_dim_output(In::dims[1], K[0], S[0], P[0], D[0]);
        constexpr auto w = pool_dim_output(In::dims[2], K[1], S[1], P[1], D[1]);
        if constexpr (h.error == size_error::padding_too_large || w.error == size_error::padding_too_large)
            return rejected<Layer, In, pooling_padding_at_most<K[0] / 2, K[1] / 2>>{};
        else if constexpr (h.error == size_error::kernel_larger_than_input ||
                           w.error == size_error::kernel_larger_than_input)
            return rejected<Layer, In, padded_input_at_least<D[0] * (K[0] - 1) + 1, D[1] * (K[1] - 1) + 1>>{};
        else if constexpr (!h.ok() || !w.ok())
            return rejected<Layer, In, non_empty_output>{};
        else
            return shape<In::dims[0], h.value, w.value>{};
    }
}

}  // namespace detail

template <std::size_t Kernel, detail::layer_option... Options>
struct max_pool2d {
    static constexpr std::array<std::size_t, 2> kernel{Kernel, Kernel};
    static constexpr auto strides = detail::pair_option<stride, Options...>(kernel);
    static constexpr auto pads = detail::pair_option<padding, Options...>({0, 0});
    static constexpr auto dilations = detail::pair_option<dilation, Options...>({1, 1});
    static constexpr kernels::max_pool2d_options options{
        .kernel_size = kernel, .stride = strides, .padding = pads, .dilation = dilations};

    static std::string name() {
        return "max_pool2d<" + std::to_string(Kernel) + detail::pair_text("stride", strides, kernel) +
               detail::pair_text("padding", pads, {0, 0}) + detail::pair_text("dilation", dilations, {1, 1}) +
               ">";
    }

    template <class In>
    static constexpr auto infer(In) {
        return detail::pool2d_infer<max_pool2d, In, kernel, strides, pads, dilations>();
    }

    template <class In>
    struct bind : bind_defaults {
        using output_shape = decltype(infer(In{}));
        // Window positions, 8 to an int64 of the model's index storage, or flat indices.
        static constexpr bool keeps_positions = kernels::detail::is_plain_2x2(options, strides);
        using index_type = std::conditional_t<keeps_positions, std::uint8_t, std::int64_t>;
        static constexpr std::size_t index_size(std::size_t batch) {
            const std::size_t n = batch * output_shape::size;
            return keeps_positions ? (n + 7) / 8 : n;
        }
        static constexpr std::size_t inference_index_size(std::size_t) { return 0; }

        // The kernel's forward on pointers (kernels::detail::max_pool2d_run), without its checks:
        // the types made them. Indices only when a backward follows.
        template <class T>
        static void forward(const layer_args<T>& a) {
            index_type* indices = a.backward_follows ? reinterpret_cast<index_type*>(a.indices) : nullptr;
            kernels::detail::max_pool2d_run(a.x[0], a.y, indices, {a.batch, In::dims[0], In::dims[1], In::dims[2]},
                                            output_shape::dims[1], output_shape::dims[2], options);
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            unpool(a, kernels::none);
        }

        // The backward with a mask of the output's shape (kernels::none: none): a gradient passes
        // only where mask > 0. relu_max_pool2d (graph/fusion.hpp) masks with its pooled outputs.
        template <class T, class Mask>
        static void unpool(const layer_args<T>& a, const Mask& mask) {
            if (a.dx[0])
                kernels::max_pool2d_backward(
                    batch_view<output_shape>(a.dy, a.batch),
                    batch_view<output_shape>(reinterpret_cast<const index_type*>(a.indices), a.batch),
                    batch_view<In>(a.dx[0], a.batch), a.dx_mode[0], mask);
        }
    };
};

}  // namespace katachi::graph
