// katachi/graph/layers/leaky_relu.hpp: leaky_relu<Num, Den> with negative slope Num / Den
// (default 1 / 100, PyTorch's 0.01); keeps the shape; its backward reads the input.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/kernels/leaky_relu.hpp>

namespace katachi::graph {

template <std::size_t Num = 1, std::size_t Den = 100>
struct leaky_relu {
    static constexpr double slope = static_cast<double>(Num) / static_cast<double>(Den);
    static std::string name() {
        return "leaky_relu<" + std::to_string(Num) + ", " + std::to_string(Den) + ">";
    }

    template <class In>
    static constexpr In infer(In) {
        return {};
    }

    template <class In>
    struct bind : bind_defaults {
        using output_shape = In;

        template <class T>
        static void forward(const layer_args<T>& a) {
            kernels::leaky_relu_forward(batch_view<In>(a.x[0], a.batch), batch_view<In>(a.y, a.batch), slope);
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            if (a.dx[0])
                kernels::leaky_relu_backward(batch_view<In>(a.x[0], a.batch), batch_view<In>(a.dy, a.batch),
                                             batch_view<In>(a.dx[0], a.batch), slope, a.dx_mode[0]);
        }
    };
};

}  // namespace katachi::graph
