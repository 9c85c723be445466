// katachi/graph/layers/output_activation.hpp: what relu, sigmoid and tanh share as graph layers.
//
// They keep the shape and their backward reads the output, so a layer only names its kernels:
// `struct relu : output_activation<relu>` with static forward(x, y) and backward(y, dy, dx, mode).
#pragma once

#include <katachi/graph/layer.hpp>

namespace katachi::graph {

template <class Layer>
struct output_activation {
    template <class In>
    static constexpr In infer(In) {
        return {};
    }

    template <class In>
    struct bind : bind_defaults {
        using output_shape = In;

        template <class T>
        static void forward(const layer_args<T>& a) {
            Layer::forward(batch_view<In>(a.x[0], a.batch), batch_view<In>(a.y, a.batch));
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            if (a.dx[0])
                Layer::backward(batch_view<In>(a.y, a.batch), batch_view<In>(a.dy, a.batch),
                                batch_view<In>(a.dx[0], a.batch), a.dx_mode[0]);
        }
    };
};

}  // namespace katachi::graph
