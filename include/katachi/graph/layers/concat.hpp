// katachi/graph/layers/concat.hpp: concat joins two inputs along their channels (dimension 0 of a
// sample, 1 of the batch): shape<C1, D...> and shape<C2, D...> give shape<C1 + C2, D...>.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/kernels/concat.hpp>

namespace katachi::graph {

namespace detail {
template <std::size_t C, class S>
struct with_channels;
template <std::size_t C, std::size_t C0, std::size_t... D>
struct with_channels<C, shape<C0, D...>> {
    using type = shape<C, D...>;
};
}  // namespace detail

struct concat {
    static std::string name() { return "concat"; }

    template <class A, class B>
    static constexpr auto infer(A, B) {
        if constexpr (A::rank == 0 || A::rank != B::rank)
            return rejected<concat, A, same_spatial_size_as<B>>{};
        else if constexpr (!(typename detail::with_channels<1, A>::type{} ==
                             typename detail::with_channels<1, B>::type{}))
            return rejected<concat, A, same_spatial_size_as<B>>{};
        else
            return typename detail::with_channels<A::dims[0] + B::dims[0], A>::type{};
    }

    template <class A, class B>
    struct bind : bind_defaults {
        using output_shape = typename detail::with_channels<A::dims[0] + B::dims[0], A>::type;

        template <class T>
        static void forward(const layer_args<T>& a) {
            kernels::concat_forward(1, batch_view<output_shape>(a.y, a.batch), batch_view<A>(a.x[0], a.batch),
                                    batch_view<B>(a.x[1], a.batch));
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            const auto dy = batch_view<output_shape>(a.dy, a.batch);
            if (a.dx[0] && a.dx[1] && a.dx_mode[0] == a.dx_mode[1])
                kernels::concat_backward(1, dy, batch_view<A>(a.dx[0], a.batch),
                                         batch_view<B>(a.dx[1], a.batch), a.dx_mode[0]);
            else {
                if (a.dx[0])
                    kernels::concat_backward(1, dy, batch_view<A>(a.dx[0], a.batch), kernels::none,
                                             a.dx_mode[0]);
                if (a.dx[1])
                    kernels::concat_backward(1, dy, kernels::none, batch_view<B>(a.dx[1], a.batch),
                                             a.dx_mode[1]);
            }
        }
    };
};

}  // namespace katachi::graph
