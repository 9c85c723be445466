// katachi/graph/layers/op_layer.hpp: layer<Op, Options>, the graph face's adaptor over an op
// defined once in katachi/ops/.
//
//   layer<ops::batch_norm2d, ops::batch_norm_options{.eps = 1e-3, .momentum = std::nullopt}>
//   layer<ops::max_pool2d, ops::max_pool2d_options{.kernel_size = 3, .stride = 2, .ceil_mode = true}>
//
// The options are a template argument; the sizes the input fixes (in_features, in_channels,
// num_features) are deduced and must be left 0. The op's shape rule runs at compile time and a
// refusal carries the rule's sentence (diagnostics.hpp); the parameters, buffers, PyTorch's
// initialisation and the kernel calls are the op's. The short spellings (linear<10>,
// conv2d<32, 3, padding<1>>, max_pool2d<2>, batch_norm2d, ...) derive from this adaptor.
#pragma once

#include <array>
#include <cstddef>
#include <katachi/diagnostics.hpp>
#include <katachi/graph/layer.hpp>
#include <katachi/ops/op.hpp>
#include <string>
#include <utility>

namespace katachi::graph {

namespace detail {

// shape<D[0], ..., D[rank - 1]>.
template <ops::dims D>
constexpr auto shape_of() {
    return []<std::size_t... I>(std::index_sequence<I...>) {
        return shape<D.d[I]...>{};
    }
    (std::make_index_sequence<D.rank>{});
}

// The first N specs of a list, as the array the layer contract asks for.
template <std::size_t N>
constexpr std::array<tensor_spec, N> first_specs(const ops::tensor_specs& s) {
    std::array<tensor_spec, N> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = s.items[i];
    return out;
}

// Pointers to each spec's elements in one block laid out in the specs' order.
template <class T, std::size_t N>
constexpr std::array<T*, 4> spec_pointers(T* base, const std::array<tensor_spec, N>& specs) {
    std::array<T*, 4> out{};
    std::size_t at = 0;
    for (std::size_t i = 0; i < N; ++i) {
        out[i] = base ? base + at : nullptr;
        at += specs[i].size();
    }
    return out;
}

// An op that can take in the relu before it (ops/max_pool2d.hpp) gives its bind the fused pair
// that graph/fusion.hpp's relu_max_pool2d runs.
template <class Op, class Bind>
struct relu_hooks {};
template <class Op, class Bind>
requires(Op::takes_in_relu) struct relu_hooks<Op, Bind> {
    template <class T>
    static void forward_after_relu(const layer_args<T>& a) {
        Op::forward_after_relu(Bind::bound, Bind::in, Bind::to_call(a));
    }
    template <class T>
    static void backward_through_relu(const layer_args<T>& a) {
        Op::backward_through_relu(Bind::bound, Bind::in, Bind::to_call(a));
    }
};

}  // namespace detail

// The adaptor; Self is the type a diagnostic names (layer<...> itself, or a short spelling).
template <class Self, class Op, typename Op::options_type Options>
struct basic_layer {
    using op = Op;
    static constexpr typename Op::options_type options = Options;

    static constexpr ops::text spelling() { return Op::spelling(Options); }
    static std::string name() { return std::string(Self::spelling().view()); }  // a spelling may rename

    // The graph face's rule: the op's deducing rule where it has one (linear: a flat input).
    template <class... D>
    static constexpr ops::rule rule_for(const D&... in) {
        if constexpr (requires { Op::deduce_rule(Options, in...); })
            return Op::deduce_rule(Options, in...);
        else
            return Op::output_shape(Options, in...);
    }

    template <class In, class... More>
    static constexpr auto infer(In, More...) {
        constexpr ops::rule r = rule_for(ops::dims::of(In::dims), ops::dims::of(More::dims)...);
        if constexpr (!r.ok())
            return refused<Self, In, r.why>{};
        else
            return detail::shape_of<r.out>();
    }

    template <class... In>
    struct bind : detail::relu_hooks<Op, bind<In...>> {
        static constexpr std::size_t arity = sizeof...(In);
        static constexpr std::array<ops::dims, arity> ins{ops::dims::of(In::dims)...};
        static constexpr ops::dims in = ins[0];
        // f(ins[0], ins[1], ...): the op's functions take each input's dims.
        template <class F>
        static constexpr decltype(auto) with_inputs(F&& f) {
            return [&]<std::size_t... I>(std::index_sequence<I...>)->decltype(auto) {
                return f(ins[I]...);
            }
            (std::make_index_sequence<arity>{});
        }
        static constexpr auto bound = with_inputs([](const auto&... d) { return Op::bound(Options, d...); });
        using output_shape = decltype(infer(In{}...));

        static constexpr ops::tensor_specs param_list = Op::parameters(bound);
        static constexpr ops::tensor_specs buffer_list = Op::buffers(bound);
        static constexpr std::array<tensor_spec, param_list.count> parameters =
            detail::first_specs<param_list.count>(param_list);
        static constexpr std::array<tensor_spec, buffer_list.count> buffers =
            detail::first_specs<buffer_list.count>(buffer_list);
        static constexpr bool tracks_batches = Op::tracks_batches(bound);
        static constexpr std::size_t saved_size(std::size_t batch) {
            return with_inputs([&](const auto&... d) { return Op::saved_size(bound, d..., batch); });
        }
        static constexpr std::size_t index_size(std::size_t batch) {
            return with_inputs([&](const auto&... d) { return Op::index_size(bound, d..., batch); });
        }
        static constexpr std::size_t inference_index_size(std::size_t batch) {
            if constexpr (requires { Op::inference_index_size(bound, in, batch); })
                return Op::inference_index_size(bound, in, batch);
            else
                return index_size(batch);
        }
        static constexpr std::size_t workspace_size(std::size_t batch) {
            return with_inputs([&](const auto&... d) { return Op::workspace_size(bound, d..., batch); });
        }

        template <class T>
        static void reset(T* p, T* b, generator& gen) {
            Op::reset(bound, detail::spec_pointers(p, parameters), detail::spec_pointers(b, buffers), gen);
        }

        template <class T>
        [[gnu::always_inline]] static ops::call<T> to_call(const layer_args<T>& a) {
            ops::call<T> c;
            c.batch = a.batch;
            c.training = a.training;
            c.backward_follows = a.backward_follows;
            c.x = a.x;
            c.y = a.y;
            const auto params = detail::spec_pointers(const_cast<T*>(a.params), parameters);
            for (std::size_t i = 0; i < 4; ++i) c.params[i] = params[i];
            c.buffers = detail::spec_pointers(a.buffers, buffers);
            c.batches_tracked = a.batches_tracked;
            c.saved = a.saved;
            c.indices = a.indices;
            c.workspace = a.workspace;
            c.gen = a.gen;
            c.prepared = a.prepared;
            c.dy = a.dy;
            c.dx = a.dx;
            c.dx_mode = a.dx_mode;
            c.dparams = detail::spec_pointers(a.dparams, parameters);
            c.dparams_mode = a.dparams_mode;
            return c;
        }

        template <class T>
        [[gnu::always_inline]] static void forward(const layer_args<T>& a) {
            with_inputs([&](const auto&... d) { Op::forward(bound, d..., to_call(a)); });
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            with_inputs([&](const auto&... d) { Op::backward(bound, d..., to_call(a)); });
        }
    };
};

template <class Op, typename Op::options_type Options = typename Op::options_type{}>
struct layer : basic_layer<layer<Op, Options>, Op, Options> {};

}  // namespace katachi::graph
