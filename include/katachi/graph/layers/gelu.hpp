// katachi/graph/layers/gelu.hpp: gelu (exact, PyTorch's default) and gelu_tanh (approximate='tanh');
// keep the shape; their backward reads the input.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/kernels/gelu.hpp>

namespace katachi::graph {

template <kernels::gelu_approximate Approximate>
struct basic_gelu {
    static std::string name() {
        return Approximate == kernels::gelu_approximate::none ? "gelu" : "gelu_tanh";
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
            kernels::gelu_forward(batch_view<In>(a.x[0], a.batch), batch_view<In>(a.y, a.batch), Approximate);
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            if (a.dx[0])
                kernels::gelu_backward(batch_view<In>(a.x[0], a.batch), batch_view<In>(a.dy, a.batch),
                                       batch_view<In>(a.dx[0], a.batch), Approximate, a.dx_mode[0]);
        }
    };
};

using gelu = basic_gelu<kernels::gelu_approximate::none>;
using gelu_tanh = basic_gelu<kernels::gelu_approximate::tanh>;

}  // namespace katachi::graph
