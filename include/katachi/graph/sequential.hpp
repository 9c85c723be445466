// katachi/graph/sequential.hpp: sequential<input<D...>, layers...> and dag<input<D...>, nodes...>,
// the two spellings of a model; see network.hpp for examples. Both bind their nodes, then fuse each
// relu that a max pooling takes in into that pooling (graph/fusion.hpp): the properties, and all
// that runs or shows the model, see the fused list.
#pragma once

#include <katachi/graph/fusion.hpp>
#include <katachi/graph/network.hpp>
#include <katachi/graph/properties.hpp>
#include <utility>

namespace katachi::graph {

namespace detail {

template <class Input, class Indices, class... L>
struct sequential_binding;
template <class Input, std::size_t... I, class... L>
struct sequential_binding<Input, std::index_sequence<I...>, L...> {
    using type = bind_graph<Input, node<index_name<I>(), L>...>;
};

// True for no_error; for a mistake, the error that reports it (a model_error is never defined).
template <class Verdict>
inline constexpr bool reported = sizeof(Verdict) > 0;

template <class T>
inline constexpr bool is_input_v = false;
template <std::size_t... D>
inline constexpr bool is_input_v<input<D...>> = true;

}  // namespace detail

// Layers applied left to right to one input, named "0", "1", ... by position.
template <class Input, Layer... Layers>
struct sequential
    : detail::graph_properties<detail::fused_nodes_t<typename detail::sequential_binding<
          Input, std::index_sequence_for<Layers...>, Layers...>::type::nodes>> {
    static_assert(detail::is_input_v<Input>,
                  "sequential<input<D...>, layers...> starts with the per-sample input shape");
    using binding =
        typename detail::sequential_binding<Input, std::index_sequence_for<Layers...>, Layers...>::type;
    static_assert(detail::reported<typename binding::verdict>);  // the first mistake, if any
    static constexpr bool is_sequential = true;
};

// Named nodes, each consuming the node before it or the nodes its from<...> names.
template <class Input, class... Nodes>
struct dag
    : detail::graph_properties<detail::fused_nodes_t<typename detail::bind_graph<Input, Nodes...>::nodes>> {
    static_assert(detail::is_input_v<Input>,
                  "dag<input<D...>, nodes...> starts with the per-sample input shape");
    using binding = detail::bind_graph<Input, Nodes...>;
    static_assert(detail::reported<typename binding::verdict>);  // the first mistake, if any
    static constexpr bool is_sequential = false;
};

// True for a model that fits together; a broken one fails where this is asked, with the sentence
// of its first mistake, so an alias can be checked where it is declared:
//   using net = sequential<input<1, 28, 28>, flatten, linear<10>>;
//   static_assert(valid<net>);
template <class Net>
inline constexpr bool valid = detail::reported<typename Net::binding::verdict>;

}  // namespace katachi::graph
