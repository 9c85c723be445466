// katachi/graph/layers/flatten.hpp: flatten maps shape<D...> to shape<D0 * D1 * ...>, as nn.Flatten
// (start_dim 1 of the batch) does. The data do not move: forward and backward are copies of the
// same row-major elements.
#pragma once

#include <algorithm>
#include <katachi/graph/layer.hpp>

namespace katachi::graph {

struct flatten {
    static std::string name() { return "flatten"; }

    template <class In>
    static constexpr shape<In::size> infer(In) {
        return {};
    }

    template <class In>
    struct bind : bind_defaults {
        using output_shape = shape<In::size>;

        template <class T>
        static void forward(const layer_args<T>& a) {
            detail::for_sample_ranges(a.batch, In::size, [&](std::size_t begin, std::size_t end) {
                std::copy(a.x[0] + begin, a.x[0] + end, a.y + begin);
            });
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            T* dx = a.dx[0];
            if (!dx) return;
            const bool add = a.dx_mode[0] == kernels::write::accumulate;
            detail::for_sample_ranges(a.batch, In::size, [&](std::size_t begin, std::size_t end) {
                if (add)
                    for (std::size_t i = begin; i < end; ++i) dx[i] += a.dy[i];
                else
                    std::copy(a.dy + begin, a.dy + end, dx + begin);
            });
        }
    };
};

}  // namespace katachi::graph
