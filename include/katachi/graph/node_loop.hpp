// katachi/graph/node_loop.hpp: visiting a network's nodes at compile time, in forward order or in
// the reverse order of the generated backward pass.
//
// The visitor is called as f.template operator()<I>() for each node index I, so its body can name
// Net::node_at<I> and the node's constexpr offsets. The index set is a Boost.Hana range; the reverse
// order is that range reversed, which is the whole of the backward schedule's ordering.
#pragma once

#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>
#include <boost/hana/reverse.hpp>
#include <boost/hana/tuple.hpp>
#include <cstddef>

namespace katachi::graph::detail {

template <std::size_t N>
constexpr auto node_indices() {
    return boost::hana::to_tuple(boost::hana::make_range(boost::hana::size_c<0>, boost::hana::size_c<N>));
}

template <std::size_t N, class F>
constexpr void for_each_node(F&& f) {
    boost::hana::for_each(node_indices<N>(), [&](auto i) { f.template operator()<decltype(i)::value>(); });
}

template <std::size_t N, class F>
constexpr void for_each_node_reversed(F&& f) {
    boost::hana::for_each(boost::hana::reverse(node_indices<N>()),
                          [&](auto i) { f.template operator()<decltype(i)::value>(); });
}

}  // namespace katachi::graph::detail
