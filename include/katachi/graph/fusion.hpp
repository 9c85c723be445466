// katachi/graph/fusion.hpp: the graph face's two rewrites of a network. First, a relu whose only
// reader is the max pooling right after it becomes part of that pooling; then a convolution whose
// only reader is such a pooling (2x2, stride 2) becomes one node with it when the fused pass fits
// (ops/conv_relu_max_pool2d.hpp: stride 1, one group, at most 32 taps, as a network's first
// convolution on one or three channels). sequential and dag (graph/sequential.hpp) apply both once
// to their bound node list, before anything is computed from it, so the model, the inference loop,
// flash_model, the properties, the summary and the DOT all see one ordinary node,
// relu_max_pool2d<Pool> or conv_relu_max_pool2d<Conv, Pool>, where two or three were.
//
// Why the first is exact: pooling the relu's input and applying the relu to the pooled values gives
// the same values (the relu is monotone, so it keeps which value of a window is the largest, and
// max(relu(a), relu(b)) = relu(max(a, b))); and the backward of the pair sends each pooled
// gradient to where the maximum sat, but only where the pooled value is positive, which is the
// relu's backward on the one position of the window that receives a gradient. So the relu's two
// full-size passes (forward and backward) are left out, and its output and gradient are never
// stored: the fused node reads the relu's input and writes the pooled output. The second leaves out
// the convolution's full-size output and gradient likewise (the largest memory traffic of a small
// convolutional network); its values are the three layers', its sums in another order.
//
// The relu's fused node keeps the pooling's name (a relu has no parameters, so the state-dict keys
// are those of the network as declared); its layer's name says it, "max_pool2d<2> (takes in relu)".
// The convolution's keeps the convolution's name and parameters, "conv2d<32, 3, padding<1>> (takes
// in relu, max_pool2d<2>)". The nodes that went are gone from the list, so the nodes after them are
// numbered lower.
#pragma once

#include <array>
#include <cstddef>
#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/max_pool2d.hpp>
#include <katachi/graph/layers/relu.hpp>
#include <katachi/graph/network.hpp>
#include <katachi/ops/conv2d.hpp>
#include <katachi/ops/conv_relu_max_pool2d.hpp>
#include <string>
#include <type_traits>
#include <utility>

namespace katachi::graph {

// The max pooling Pool with the relu before it taken in: reads the relu's input, writes
// relu(Pool(x)) (= Pool(relu(x))), and its backward passes a gradient only where that is positive.
template <class Pool>
struct relu_max_pool2d {
    using pooling = Pool;

    static std::string name() { return Pool::name() + " (takes in relu)"; }

    template <class In>
    static constexpr auto infer(In) {
        return Pool::infer(In{});
    }

    template <class In>
    struct bind : Pool::template bind<In> {
        using pool_bind = typename Pool::template bind<In>;
        using output_shape = typename pool_bind::output_shape;

        // The op's own pair (ops/max_pool2d.hpp): the pooled values get the relu, and the pooled
        // outputs are the backward's mask, positive exactly where the relu let the maximum through.
        template <class T>
        static void forward(const layer_args<T>& a) {
            pool_bind::forward_after_relu(a);
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            pool_bind::backward_through_relu(a);
        }
    };
};

// A convolution with the relu and the 2x2 max pooling after it taken in
// (ops/conv_relu_max_pool2d.hpp): reads the convolution's input, writes the pooled values, and keeps
// the convolution's parameters and name.
template <class Conv, class Pool>
struct conv_relu_max_pool2d {
    using convolution = Conv;
    using pooling = Pool;

    static std::string name() { return Conv::name() + " (takes in relu, " + Pool::name() + ")"; }

    template <class In>
    static constexpr auto infer(In) {
        return Pool::infer(decltype(Conv::infer(In{})){});
    }

    template <class In>
    struct bind : Conv::template bind<In> {
        using conv_bind = typename Conv::template bind<In>;
        using fused = ops::conv_relu_max_pool2d;
        using output_shape = decltype(infer(In{}));
        static constexpr ops::dims in = conv_bind::in;

        static constexpr std::size_t saved_size(std::size_t) { return 0; }
        static constexpr std::size_t index_size(std::size_t batch) {
            return fused::index_size(conv_bind::bound, Pool::options, in, batch);
        }
        static constexpr std::size_t inference_index_size(std::size_t) { return 0; }
        static constexpr std::size_t workspace_size(std::size_t batch) {
            return fused::workspace_size(conv_bind::bound, Pool::options, in, batch);
        }
        // The weight's Winograd transform, made once per load by inference_model (prepared_size).
        static constexpr std::size_t prepared_size() {
            return fused::prepared_size(conv_bind::bound, Pool::options, in);
        }
        template <class T>
        static void prepare(const T* params, T* prepared) {
            fused::prepare(conv_bind::bound, Pool::options, in,
                           conv_bind::to_call(layer_args<T>{.params = params}), prepared);
        }

        template <class T>
        static void forward(const layer_args<T>& a) {
            fused::forward(conv_bind::bound, Pool::options, in, conv_bind::to_call(a));
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            fused::backward(conv_bind::bound, Pool::options, in, conv_bind::to_call(a));
        }
    };
};

// Whether a node's layer is a max pooling that took in a relu.
template <class L>
inline constexpr bool takes_in_relu_v = false;
template <class Pool>
inline constexpr bool takes_in_relu_v<relu_max_pool2d<Pool>> = true;

// Whether a node's layer is a convolution that took in a relu and a pooling.
template <class L>
inline constexpr bool takes_in_pooling_v = false;
template <class Conv, class Pool>
inline constexpr bool takes_in_pooling_v<conv_relu_max_pool2d<Conv, Pool>> = true;

namespace detail {

// A layer whose op can take in the relu before it (max_pool2d<...> or layer<ops::max_pool2d, ...>).
template <class L>
inline constexpr bool is_max_pool2d_v = requires {
    requires L::op::takes_in_relu;
};

// The nodes a bound node reads, as an array.
template <class Node>
struct read_nodes;
template <fixed_string Name, class L, std::size_t... K, class... In>
struct read_nodes<bound_node<Name, L, input_indices<K...>, In...>> {
    static constexpr std::array<std::size_t, sizeof...(K)> value{K...};
};

// The first node a bound node reads (not_found for the input).
template <class Node>
constexpr std::size_t first_read() {
    if constexpr (read_nodes<Node>::value.size() == 0)
        return not_found;
    else
        return read_nodes<Node>::value[0];
}

// Which nodes of a bound list go, and where the others move.
template <class Nodes>
struct relu_pooling_plan;
template <class... B>
struct relu_pooling_plan<type_list<B...>> {
    static constexpr std::size_t count = sizeof...(B);

    // fused[i]: node i is a relu, node i + 1 is a max pooling that reads node i alone, and no other
    // node reads node i.
    static constexpr std::array<bool, count> fused = [] {
        constexpr std::array<bool, count> relu{std::is_same_v<typename B::layer, graph::relu>...};
        constexpr std::array<bool, count> pooling{is_max_pool2d_v<typename B::layer>...};
        constexpr std::array<std::size_t, count> arity{read_nodes<B>::value.size()...};
        constexpr std::array<std::size_t, count> first{first_read<B>()...};
        std::array<std::size_t, count> readers{};
        (
            [&] {
                for (std::size_t k : read_nodes<B>::value) ++readers[k];
            }(),
            ...);
        std::array<bool, count> out{};
        for (std::size_t i = 1; i + 1 < count; ++i)
            out[i] = relu[i] && pooling[i + 1] && arity[i + 1] == 1 && first[i + 1] == i && readers[i] == 1;
        return out;
    }();

    // The index of node i in the rewritten list (for a relu that goes: its pooling's).
    static constexpr std::array<std::size_t, count> index = [] {
        std::array<std::size_t, count> at{};
        std::size_t gone = 0;
        for (std::size_t i = 0; i < count; ++i) {
            at[i] = i - gone;
            if (fused[i]) ++gone;
        }
        return at;
    }();
};

// A node that stays, reading the nodes it read at their new places.
template <class Node, class Plan>
struct renumbered;
template <fixed_string Name, class L, std::size_t... K, class... In, class Plan>
struct renumbered<bound_node<Name, L, input_indices<K...>, In...>, Plan> {
    using type = bound_node<Name, L, input_indices<Plan::index[K]...>, In...>;
};

// A pooling that takes in the relu before it: the pooling's name and input shape (the relu's
// output shape is its input's), reading what the relu read.
template <class Pooling, class Relu, class Plan>
struct fused_node;
template <fixed_string Name, class Pool, std::size_t K, class In, class Relu, class Plan>
struct fused_node<bound_node<Name, Pool, input_indices<K>, In>, Relu, Plan> {
    using type =
        bound_node<Name, relu_max_pool2d<Pool>, input_indices<Plan::index[read_nodes<Relu>::value[0]]>, In>;
};

template <class Plan, std::size_t I, class... B>
auto rewritten_node() {
    if constexpr (Plan::fused[I])
        return type_list<>{};
    else if constexpr (I > 0 && Plan::fused[I - 1])
        return type_list<typename fused_node<nth<I, B...>, nth<I - 1, B...>, Plan>::type>{};
    else
        return type_list<typename renumbered<nth<I, B...>, Plan>::type>{};
}

template <class... Lists>
struct joined_lists {
    using type = type_list<>;
};
template <class... A>
struct joined_lists<type_list<A...>> {
    using type = type_list<A...>;
};
template <class... A, class... C, class... Rest>
struct joined_lists<type_list<A...>, type_list<C...>, Rest...>
    : joined_lists<type_list<A..., C...>, Rest...> {};

template <class Nodes, class Indices>
struct fuse_relu_pooling;
template <class... B, std::size_t... I>
struct fuse_relu_pooling<type_list<B...>, std::index_sequence<I...>> {
    using plan = relu_pooling_plan<type_list<B...>>;
    using type = typename joined_lists<decltype(rewritten_node<plan, I, B...>())...>::type;
};

// Whether a bound node is a convolution whose relu and 2x2 pooling the fused pass can take in, given
// the pooling (with its relu) that reads it.
template <class Conv, class Pooling>
constexpr bool conv_pooling_fits() {
    using C = typename Conv::layer;
    using P = typename Pooling::layer;
    if constexpr (!requires { requires std::is_same_v<typename C::op, ops::conv2d>; } || !takes_in_relu_v<P>)
        return false;
    else if constexpr (!std::is_same_v<typename P::pooling::op, ops::max_pool2d>)
        return false;
    else
        return ops::conv_relu_max_pool2d::fits(Conv::bind::bound, P::pooling::options, Conv::bind::in);
}

// Which nodes of a (relu-fused) list go into the convolution before them, and where the others move.
template <class Nodes>
struct conv_pooling_plan;
template <class... B>
struct conv_pooling_plan<type_list<B...>> {
    static constexpr std::size_t count = sizeof...(B);

    // fused[i]: node i is a convolution, node i + 1 a max pooling with its relu that reads node i
    // alone, no other node reads node i, and the three fit the fused pass.
    static constexpr std::array<bool, count> fused = [] {
        constexpr std::array<std::size_t, count> arity{read_nodes<B>::value.size()...};
        constexpr std::array<std::size_t, count> first{first_read<B>()...};
        std::array<std::size_t, count> readers{};
        (
            [&] {
                for (std::size_t k : read_nodes<B>::value) ++readers[k];
            }(),
            ...);
        std::array<bool, count> fits{};
        if constexpr (count > 1) [&]<std::size_t... I>(std::index_sequence<I...>) {
                ((fits[I] = conv_pooling_fits<nth<I, B...>, nth<I + 1, B...>>()), ...);
            }
        (std::make_index_sequence<count - 1>{});
        std::array<bool, count> out{};
        for (std::size_t i = 1; i + 1 < count; ++i)
            out[i] = fits[i] && arity[i + 1] == 1 && first[i + 1] == i && readers[i] == 1;
        return out;
    }();

    // The index of node i in the rewritten list (for a pooling that goes: its convolution's).
    static constexpr std::array<std::size_t, count> index = [] {
        std::array<std::size_t, count> at{};
        std::size_t gone = 0;
        for (std::size_t i = 0; i < count; ++i) {
            if (i > 0 && fused[i - 1]) {
                at[i] = at[i - 1];
                ++gone;
            } else {
                at[i] = i - gone;
            }
        }
        return at;
    }();
};

// A convolution that takes in the relu and pooling after it: the convolution's name, inputs and
// input shape.
template <class Conv, class Pooling, class Plan>
struct conv_fused_node;
template <fixed_string Name, class C, std::size_t... K, class In, class Pooling, class Plan>
struct conv_fused_node<bound_node<Name, C, input_indices<K...>, In>, Pooling, Plan> {
    using type = bound_node<Name, conv_relu_max_pool2d<C, typename Pooling::layer::pooling>,
                            input_indices<Plan::index[K]...>, In>;
};

template <class Plan, std::size_t I, class... B>
auto conv_rewritten_node() {
    if constexpr (Plan::fused[I])
        return type_list<typename conv_fused_node<nth<I, B...>, nth<I + 1, B...>, Plan>::type>{};
    else if constexpr (I > 0 && Plan::fused[I - 1])
        return type_list<>{};
    else
        return type_list<typename renumbered<nth<I, B...>, Plan>::type>{};
}

template <class Nodes, class Indices>
struct fuse_conv_pooling;
template <class... B, std::size_t... I>
struct fuse_conv_pooling<type_list<B...>, std::index_sequence<I...>> {
    using plan = conv_pooling_plan<type_list<B...>>;
    using type = typename joined_lists<decltype(conv_rewritten_node<plan, I, B...>())...>::type;
};

// The bound node list with every relu that a max pooling takes in fused into that pooling, then
// every such pooling that the convolution before it can take in fused into that convolution.
template <class Nodes>
struct fused_nodes;
template <class... B>
struct fused_nodes<type_list<B...>> {
    using relu_fused = typename fuse_relu_pooling<type_list<B...>, std::index_sequence_for<B...>>::type;
    template <class L>
    struct conv_pass;
    template <class... R>
    struct conv_pass<type_list<R...>> {
        using type = typename fuse_conv_pooling<type_list<R...>, std::index_sequence_for<R...>>::type;
    };
    using type = typename conv_pass<relu_fused>::type;
};
template <class Nodes>
using fused_nodes_t = typename fused_nodes<Nodes>::type;

}  // namespace detail
}  // namespace katachi::graph
