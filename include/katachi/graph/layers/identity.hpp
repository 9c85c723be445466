// katachi/graph/layers/identity.hpp: identity passes its input on unchanged (a block's output node).
#pragma once

#include <algorithm>
#include <katachi/graph/layer.hpp>

namespace katachi::graph {

struct identity {
    static std::string name() { return "identity"; }

    template <class In>
    static constexpr In infer(In) {
        return {};
    }

    template <class In>
    struct bind : bind_defaults {
        using output_shape = In;

        template <class T>
        static void forward(const layer_args<T>& a) {
            std::copy(a.x[0], a.x[0] + a.batch * In::size, a.y);
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            T* dx = a.dx[0];
            if (!dx) return;
            const std::size_t n = a.batch * In::size;
            if (a.dx_mode[0] == kernels::write::accumulate)
                for (std::size_t i = 0; i < n; ++i) dx[i] += a.dy[i];
            else
                std::copy(a.dy, a.dy + n, dx);
        }
    };
};

}  // namespace katachi::graph
