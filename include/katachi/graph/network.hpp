// katachi/graph/network.hpp: models as compile-time graphs, and what the compiler knows of them.
//
//   using lenet = sequential<input<1, 28, 28>,
//                            conv2d<32, 3, padding<1>>, relu, max_pool2d<2>,
//                            conv2d<64, 3, padding<1>>, relu, max_pool2d<2>,
//                            flatten, linear<128>, relu, linear<10>>;          // 3136 deduced
//
//   using block = dag<input<8, 9, 7>,
//                     node<"conv1", conv2d<8, 3, padding<1>, bias<false>>>,    // consumes the node
//                     node<"bn1", batch_norm2d>, node<"relu1", relu>,          // before it, or the
//                     node<"conv2", conv2d<8, 3, padding<1>, bias<false>>>,    // ones named in from<>
//                     node<"bn2", batch_norm2d>,
//                     node<"sum", add, from<"bn2", "input">>, node<"out", relu>>;
//
// Every node's input shapes are deduced from the declared per-sample input shape. The first layer
// that cannot take its input stops the deduction and becomes a compile error through
// katachi/diagnostics.hpp. A sequential names its layers "0", "1", ... as nn.Sequential does; a dag
// by its node names. A block (katachi/graph/block.hpp) is a dag without an input shape that a
// node can hold; its nodes are named "<node>.<inner name>".
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <katachi/diagnostics.hpp>
#include <katachi/graph/fixed_string.hpp>
#include <katachi/graph/layer.hpp>
#include <katachi/shape.hpp>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace katachi::graph {

// The declared per-sample input shape.
template <std::size_t... D>
struct input {
    using shape_type = shape<D...>;
};

// The nodes a node consumes, by name; from<> (the default) is the node declared just before.
template <fixed_string... Names>
struct from {};

template <fixed_string Name, class Layer, class From = from<>>
struct node {};

namespace detail {

template <class... T>
struct type_list {};

template <std::size_t... I>
struct input_indices {};

// The input node: its output is the declared shape.
template <class S>
struct input_layer {
    static std::string name() { return "input"; }
    template <class...>
    struct bind : bind_defaults {
        using output_shape = S;
        template <class T>
        static void forward(const layer_args<T>&) {}
        template <class T>
        static void backward(const layer_args<T>&) {}
    };
};

// A node whose input shapes are known.
template <fixed_string Name, class L, class Inputs, class... In>
struct bound_node {
    static constexpr fixed_string name = Name;
    using layer = L;
    using inputs = Inputs;
    using input_shapes = type_list<In...>;
    using bind = typename L::template bind<In...>;
    using output_shape = typename bind::output_shape;
};

inline constexpr std::size_t not_found = static_cast<std::size_t>(-1);

template <class... B>
constexpr std::size_t find_name(std::string_view name) {
    constexpr std::array<std::string_view, sizeof...(B)> names{B::name.view()...};
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return i;
    return not_found;
}

template <std::size_t I, class... B>
using nth = std::tuple_element_t<I, std::tuple<B...>>;

// A refusal with its sentence becomes the model_error that names the node (diagnostics.hpp).
template <fixed_string Name, class Refused>
struct refusal;
template <fixed_string Name, class L, class Got, ops::text Why>
struct refusal<Name, refused<L, Got, Why>> {
    using type = model_error<node_sentence<Name, L::spelling(), Why>(), L, Got>;
};

// One step of the deduction: node N after the bound nodes B..., giving the next bound node or the
// diagnostic that stops the deduction.
template <class N, class... B>
struct bind_step;

template <fixed_string Name, class L, fixed_string... F, class... B>
struct bind_step<node<Name, L, from<F...>>, B...> {
    static constexpr std::size_t count = sizeof...(F) == 0 ? 1 : sizeof...(F);
    static constexpr std::array<std::size_t, count> found = [] {
        if constexpr (sizeof...(F) == 0)
            return std::array<std::size_t, 1>{sizeof...(B) - 1};
        else
            return std::array<std::size_t, count>{find_name<B...>(F.view())...};
    }();
    static constexpr std::size_t first_missing = [] {
        for (std::size_t i = 0; i < count; ++i)
            if (found[i] == not_found) return i;
        return not_found;
    }();

    template <std::size_t... K>
    static auto make(std::index_sequence<K...>) {
        if constexpr (find_name<B...>(Name.view()) != not_found) {
            return std::type_identity<name_error<Name, duplicate_node_name>>{};
        } else if constexpr (first_missing != not_found) {
            constexpr fixed_string missing = std::get<first_missing>(std::tuple{F...});
            return std::type_identity<name_error<Name, consumes_unknown_node<missing>>>{};
        } else {
            using out = decltype(L::infer(typename nth<found[K], B...>::output_shape{}...));
            if constexpr (is_rejected_v<out>)
                return std::type_identity<typename out::diagnostic>{};
            else if constexpr (is_refused_v<out>)
                return std::type_identity<typename refusal<Name, out>::type>{};
            else
                return std::type_identity<bound_node<Name, L, input_indices<found[K]...>,
                                                     typename nth<found[K], B...>::output_shape...>>{};
        }
    }
    using type = typename decltype(make(std::make_index_sequence<count>{}))::type;
};

template <class T>
inline constexpr bool is_bound_node_v = false;
template <fixed_string Name, class L, class Inputs, class... In>
inline constexpr bool is_bound_node_v<bound_node<Name, L, Inputs, In...>> = true;

// Binds the nodes left to right; stops at the first mistake, which becomes `verdict`.
template <class Bound, class... Nodes>
struct bind_all;

template <class... B>
struct bind_all<type_list<B...>> {
    using nodes = type_list<B...>;
    using verdict = no_error;
};

template <class... B, class N, class... Rest>
struct bind_all<type_list<B...>, N, Rest...> {
    using step = typename bind_step<N, B...>::type;
    using next = std::conditional_t<is_bound_node_v<step>, bind_all<type_list<B..., step>, Rest...>,
                                    std::type_identity<void>>;
    static auto pick_nodes() {
        if constexpr (is_bound_node_v<step>)
            return std::type_identity<typename next::nodes>{};
        else
            return std::type_identity<type_list<B...>>{};
    }
    static auto pick_verdict() {
        if constexpr (is_bound_node_v<step>)
            return std::type_identity<typename next::verdict>{};
        else
            return std::type_identity<step>{};
    }
    using nodes = typename decltype(pick_nodes())::type;
    using verdict = typename decltype(pick_verdict())::type;
};

template <class Input, class... Nodes>
using bind_graph =
    bind_all<type_list<bound_node<"input", input_layer<typename Input::shape_type>, input_indices<>>>,
             Nodes...>;

}  // namespace detail
}  // namespace katachi::graph
