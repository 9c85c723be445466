// katachi/graph/layers/flatten.hpp: flatten maps shape<D...> to shape<D0 * D1 * ...>, as nn.Flatten
// (start_dim 1 of the batch) does. The data do not move: forward and backward are copies of the
// same row-major elements.
#pragma once

#include <algorithm>
#include <katachi/graph/layer.hpp>
#include <katachi/parallel.hpp>

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
            each_part(a.batch, [&](std::size_t begin, std::size_t end) {
                std::copy(a.x[0] + begin, a.x[0] + end, a.y + begin);
            });
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            T* dx = a.dx[0];
            if (!dx) return;
            const bool add = a.dx_mode[0] == kernels::write::accumulate;
            each_part(a.batch, [&](std::size_t begin, std::size_t end) {
                if (add)
                    for (std::size_t i = begin; i < end; ++i) dx[i] += a.dy[i];
                else
                    std::copy(a.dy + begin, a.dy + end, dx + begin);
            });
        }

        // f(begin, end) over the elements of whole samples, split by samples over the threads like
        // the kernels split a batch, so each thread copies what its core made (in its own cache).
        template <class F>
        static void each_part(std::size_t batch, F&& f) {
            katachi::detail::parallel_for(
                batch, katachi::detail::parallel_parts(batch, batch * In::size),
                [&](std::size_t n0, std::size_t n1, unsigned) { f(n0 * In::size, n1 * In::size); });
        }
    };
};

}  // namespace katachi::graph
