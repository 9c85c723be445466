// katachi/graph/layers/dropout.hpp: dropout<Num, Den> drops with probability Num / Den (default
// 1 / 2) in training, scaling the kept values by Den / (Den - Num); the identity in evaluation.
#pragma once

#include <algorithm>
#include <katachi/graph/layer.hpp>
#include <katachi/kernels/dropout.hpp>

namespace katachi::graph {

template <std::size_t Num = 1, std::size_t Den = 2>
struct dropout {
    static_assert(Den > 0 && Num <= Den, "dropout<Num, Den> needs a probability Num / Den in [0, 1]");
    static constexpr double p = static_cast<double>(Num) / static_cast<double>(Den);
    static std::string name() { return "dropout<" + std::to_string(Num) + ", " + std::to_string(Den) + ">"; }

    template <class In>
    static constexpr In infer(In) {
        return {};
    }

    template <class In>
    struct bind : bind_defaults {
        using output_shape = In;
        static constexpr std::size_t saved_size(std::size_t batch) { return batch * In::size; }  // the mask

        template <class T>
        static void forward(const layer_args<T>& a) {
            kernels::dropout_forward(batch_view<In>(a.x[0], a.batch), batch_view<In>(a.y, a.batch),
                                     batch_view<In>(a.saved, a.batch), p, a.training, *a.gen);
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            if (a.dx[0])
                kernels::dropout_backward(batch_view<In>(a.saved, a.batch), batch_view<In>(a.dy, a.batch),
                                          batch_view<In>(a.dx[0], a.batch), a.dx_mode[0]);
        }
    };
};

}  // namespace katachi::graph
