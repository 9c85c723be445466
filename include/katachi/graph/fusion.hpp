// katachi/graph/fusion.hpp: the graph face's one rewrite of a network: a relu whose only reader is
// the max pooling right after it becomes part of that pooling. sequential and dag
// (graph/sequential.hpp) apply it once to their bound node list, before anything is computed from
// it, so the model, the inference loop, flash_model, the properties, the summary and the DOT all
// see one ordinary node, relu_max_pool2d<Pool>, where the two were.
//
// Why it is exact: pooling the relu's input and applying the relu to the pooled values gives the
// same values (the relu is monotone, so it keeps which value of a window is the largest, and
// max(relu(a), relu(b)) = relu(max(a, b))); and the backward of the pair sends each pooled
// gradient to where the maximum sat, but only where the pooled value is positive, which is the
// relu's backward on the one position of the window that receives a gradient. So the relu's two
// full-size passes (forward and backward) are left out, and its output and gradient are never
// stored: the fused node reads the relu's input and writes the pooled output.
//
// The fused node keeps the pooling's name (a relu has no parameters, so the state-dict keys are
// those of the network as declared); its layer's name says it, "max_pool2d<2> (takes in relu)".
// The relu's node is gone from the list, so the nodes after it are numbered one lower.
#pragma once

#include <array>
#include <cstddef>
#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/max_pool2d.hpp>
#include <katachi/graph/layers/relu.hpp>
#include <katachi/graph/network.hpp>
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

// Whether a node's layer is a max pooling that took in a relu.
template <class L>
inline constexpr bool takes_in_relu_v = false;
template <class Pool>
inline constexpr bool takes_in_relu_v<relu_max_pool2d<Pool>> = true;

namespace detail {

// A layer whose op can take in the relu before it (max_pool2d<...> or layer<ops::max_pool2d, ...>).
template <class L>
inline constexpr bool is_max_pool2d_v = requires { requires L::op::takes_in_relu; };

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

// The bound node list with every relu that a max pooling takes in fused into that pooling.
template <class Nodes>
struct fused_nodes;
template <class... B>
struct fused_nodes<type_list<B...>> {
    using type = typename fuse_relu_pooling<type_list<B...>, std::index_sequence_for<B...>>::type;
};
template <class Nodes>
using fused_nodes_t = typename fused_nodes<Nodes>::type;

}  // namespace detail
}  // namespace katachi::graph
