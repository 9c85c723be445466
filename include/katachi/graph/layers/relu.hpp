// katachi/graph/layers/relu.hpp: relu keeps the shape; its backward reads the output.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/kernels/relu.hpp>

namespace katachi::graph {

struct relu {
    static std::string name() { return "relu"; }

    template <class In>
    static constexpr In infer(In) {
        return {};
    }

    template <class In>
    struct bind : bind_defaults {
        using output_shape = In;

        template <class T>
        static void forward(const layer_args<T>& a) {
            kernels::relu_forward(batch_view<In>(a.x[0], a.batch), batch_view<In>(a.y, a.batch));
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            if (a.dx[0])
                kernels::relu_backward(batch_view<In>(a.y, a.batch), batch_view<In>(a.dy, a.batch),
                                       batch_view<In>(a.dx[0], a.batch), a.dx_mode[0]);
        }
    };
};

}  // namespace katachi::graph
