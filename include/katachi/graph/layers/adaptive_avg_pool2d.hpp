// katachi/graph/layers/adaptive_avg_pool2d.hpp: adaptive_avg_pool2d<H, W> maps shape<C, h, w> to
// shape<C, H, W> with PyTorch's adaptive windows.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/kernels/adaptive_avg_pool2d.hpp>

namespace katachi::graph {

template <std::size_t H, std::size_t W = H>
struct adaptive_avg_pool2d {
    static_assert(H > 0 && W > 0, "adaptive_avg_pool2d<H, W> needs an output of at least 1x1");
    static std::string name() {
        return "adaptive_avg_pool2d<" + std::to_string(H) + (W == H ? "" : ", " + std::to_string(W)) + ">";
    }

    template <class In>
    static constexpr auto infer(In) {
        if constexpr (In::rank != 3)
            return rejected<adaptive_avg_pool2d, In, image_shape>{};
        else
            return shape<In::dims[0], H, W>{};
    }

    template <class In>
    struct bind : bind_defaults {
        using output_shape = shape<In::dims[0], H, W>;

        template <class T>
        static void forward(const layer_args<T>& a) {
            kernels::adaptive_avg_pool2d_forward(batch_view<In>(a.x[0], a.batch),
                                                 batch_view<output_shape>(a.y, a.batch));
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            if (a.dx[0])
                kernels::adaptive_avg_pool2d_backward(batch_view<output_shape>(a.dy, a.batch),
                                                      batch_view<In>(a.dx[0], a.batch), a.dx_mode[0]);
        }
    };
};

}  // namespace katachi::graph
