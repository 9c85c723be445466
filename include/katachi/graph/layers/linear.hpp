// katachi/graph/layers/linear.hpp: linear<Out> maps shape<in> to shape<Out>; in is deduced.
//
// PyTorch's nn.Linear: weight [Out, in], bias [Out] (bias<false> drops it), both initialised
// uniform in +-1 / sqrt(in). One sample goes through a matrix-vector product (kernels/gemm.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <katachi/graph/layer.hpp>
#include <katachi/kernels/linear.hpp>
#include <type_traits>

namespace katachi::graph {

template <std::size_t Out, detail::layer_option... Options>
struct linear {
    static_assert(Out > 0, "linear<N> needs at least one output feature");
    static constexpr bool has_bias = detail::bias_option<Options...>();

    static std::string name() {
        return "linear<" + std::to_string(Out) + (has_bias ? "" : ", bias<false>") + ">";
    }

    template <class In>
    static constexpr auto infer(In) {
        if constexpr (In::rank != 1)
            return rejected<linear, In, flat_shape>{};
        else
            return shape<Out>{};
    }

    template <class In>
    struct bind : bind_defaults {
        static constexpr std::size_t in = In::dims[0];
        using output_shape = shape<Out>;
        static constexpr std::array<tensor_spec, has_bias ? 2 : 1> parameters = [] {
            if constexpr (has_bias)
                return std::array{tensor_spec{"weight", 2, {Out, in}}, tensor_spec{"bias", 1, {Out}}};
            else
                return std::array{tensor_spec{"weight", 2, {Out, in}}};
        }();

        template <class T>
        static void reset(T* p, T*, generator& gen) {
            const double bound = 1.0 / std::sqrt(static_cast<double>(in));
            uniform_fill(p, Out * in, bound, gen);
            if constexpr (has_bias) uniform_fill(p + Out * in, Out, bound, gen);
        }

        // The product of kernels::linear_forward without its run-time shape checks, which the types
        // have already made (on a 4-16-3 MLP they cost as much as the arithmetic).
        template <class T>
        static void forward(const layer_args<T>& a) {
            T beta = T(0);
            if constexpr (has_bias) {
                const T* b = a.params + Out * in;
                for (std::size_t i = 0; i < a.batch; ++i) std::copy(b, b + Out, a.y + i * Out);
                beta = T(1);
            }
            kernels::detail::gemm(false, true, a.batch, Out, in, T(1), a.x[0], a.params, beta, a.y);
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            const auto x = batch_view<In>(a.x[0], a.batch);
            const auto dy = batch_view<output_shape>(a.dy, a.batch);
            const auto w = fixed_view(a.params, std::array{Out, in});
            if (a.dx[0])
                kernels::linear_backward(x, w, dy, batch_view<In>(a.dx[0], a.batch), kernels::none,
                                         kernels::none, a.dx_mode[0]);
            if (!a.dparams) return;
            auto dw = fixed_view(a.dparams, std::array{Out, in});
            if constexpr (has_bias)
                kernels::linear_backward(x, w, dy, kernels::none, dw,
                                         fixed_view(a.dparams + Out * in, std::array{Out}), a.dparams_mode);
            else
                kernels::linear_backward(x, w, dy, kernels::none, dw, kernels::none, a.dparams_mode);
        }
    };
};

}  // namespace katachi::graph
