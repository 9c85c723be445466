// katachi/graph/layers/add.hpp: add sums two inputs of one shape (a residual connection); its
// backward hands the gradient to both.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/kernels/add.hpp>

namespace katachi::graph {

struct add {
    static std::string name() { return "add"; }

    template <class A, class B>
    static constexpr auto infer(A, B) {
        if constexpr (!(A{} == B{}))
            return rejected<add, A, same_shape_as<B>>{};
        else
            return A{};
    }

    template <class A, class B>
    struct bind : bind_defaults {
        using output_shape = A;

        template <class T>
        static void forward(const layer_args<T>& a) {
            kernels::add_forward(batch_view<A>(a.x[0], a.batch), batch_view<A>(a.x[1], a.batch),
                                 batch_view<A>(a.y, a.batch));
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            const auto dy = batch_view<A>(a.dy, a.batch);
            for (std::size_t k = 0; k < 2; ++k)
                if (a.dx[k])
                    kernels::add_backward(dy, batch_view<A>(a.dx[k], a.batch), kernels::none, a.dx_mode[k]);
        }
    };
};

}  // namespace katachi::graph
