// katachi/graph/block.hpp: a block is a reusable piece of a dag, defined once and placed in a
// graph as many times as needed, each time under its own name.
//
//   template <std::size_t C>
//   using basic_block = block<node<"conv1", conv2d<C, 3, padding<1>, bias<false>>>,
//                             node<"bn1", batch_norm2d>, node<"relu1", relu>,
//                             node<"conv2", conv2d<C, 3, padding<1>, bias<false>>>,
//                             node<"bn2", batch_norm2d>,
//                             node<"sum", add, from<"bn2", "input">>, node<"relu2", relu>>;
//
//   using net = dag<input<8, 16, 16>, node<"layer1", basic_block<8>>, node<"layer2", basic_block<8>>, ...>;
//
// Inside a block, "input" is what the block's node consumes. The block's nodes become nodes of the
// graph named "<block>.<node>" ("layer1.conv1", so parameters are "layer1.conv1.weight", as a
// PyTorch submodule names them), and a node named after the block passes the block's output on.
#pragma once

#include <katachi/graph/layers/identity.hpp>
#include <katachi/graph/network.hpp>

namespace katachi::graph {

template <class... Nodes>
struct block {
    static std::string name() { return "block"; }
};

namespace detail {

// The name a node inside block Outer gives to F; "input" is the node the block consumes.
template <fixed_string Outer, fixed_string Input, fixed_string F>
constexpr auto block_name() {
    if constexpr (F.view() == "input")
        return Input;
    else
        return dotted<Outer, F>();
}

template <fixed_string Outer, fixed_string Input, bool First, class N>
struct block_node;
template <fixed_string Outer, fixed_string Input, bool First, fixed_string Name, class L, fixed_string... F>
struct block_node<Outer, Input, First, node<Name, L, from<F...>>> {
    using inputs =
        std::conditional_t<First && sizeof...(F) == 0, from<Input>, from<block_name<Outer, Input, F>()...>>;
    using type = node<dotted<Outer, Name>(), L, inputs>;
};

template <class N>
struct last_node_name;
template <fixed_string Name, class L, class From>
struct last_node_name<node<Name, L, From>> {
    static constexpr fixed_string value = Name;
};

template <fixed_string Name, class From, class... B>
constexpr auto block_input() {
    if constexpr (std::is_same_v<From, from<>>)
        return nth<sizeof...(B) - 1, B...>::name;
    else
        return []<fixed_string F>(from<F>) { return F; }(From{});
}

template <fixed_string Outer, fixed_string Input, class Indices, class... Inner>
struct expand_block;
template <fixed_string Outer, fixed_string Input, std::size_t... I, class... Inner>
struct expand_block<Outer, Input, std::index_sequence<I...>, Inner...> {
    using last = nth<sizeof...(Inner) - 1, Inner...>;
    template <class Bound, class... Rest>
    using then = bind_all<Bound, typename block_node<Outer, Input, I == 0, Inner>::type...,
                          node<Outer, identity, from<dotted<Outer, last_node_name<last>::value>()>>, Rest...>;
};

// A block node expands into its nodes, renamed, followed by the node that carries its name.
template <class... B, fixed_string Name, class... Inner, class From, class... Rest>
struct bind_all<type_list<B...>, node<Name, block<Inner...>, From>, Rest...>
    : expand_block<Name, block_input<Name, From, B...>(), std::index_sequence_for<Inner...>,
                   Inner...>::template then<type_list<B...>, Rest...> {};

}  // namespace detail
}  // namespace katachi::graph
