// katachi/graph/dot.hpp: Graphviz DOT of a model's forward graph and of its generated backward pass.
//
// forward_dot<Net>(): one box per node (name, layer, output shape), an arrow per consumed output.
// backward_dot<Net>(): the backward schedule as the model runs it: gradient nodes in reverse
// topological order (numbered by their step), an arrow from each node's gradient to the gradients
// of its inputs, dashed where the gradient is added to one written before (a node with several
// consumers), and each parameterised node's parameter gradients. A relu taken in by the max
// pooling after it (graph/fusion.hpp) is no node of its own: the pooling's layer says it takes it in.
#pragma once

#include <cstddef>
#include <katachi/graph/node_loop.hpp>
#include <katachi/graph/sequential.hpp>
#include <string>

namespace katachi::graph {

template <class Net>
std::string forward_dot() {
    std::string out = "digraph forward {\n  rankdir=TB;\n  node [shape=box];\n";
    detail::for_each_node<Net::node_count>([&]<std::size_t I>() {
        using N = typename Net::template node_at<I>;
        out += "  n" + std::to_string(I) + " [label=\"" + std::string(N::name.view()) + "\\n" +
               N::layer::name() + "\\n" + N::output_shape::str() + "\"];\n";
        for (std::size_t k = 0; k < Net::arity[I]; ++k)
            out += "  n" + std::to_string(Net::inputs[I][k]) + " -> n" + std::to_string(I) + ";\n";
    });
    return out + "}\n";
}

template <class Net>
std::string backward_dot() {
    std::string out = "digraph backward {\n  rankdir=TB;\n  node [shape=box];\n";
    std::size_t step = 0;
    for (std::size_t i = Net::node_count; i-- > 1;) {
        if (!Net::live[i]) continue;
        out += "  g" + std::to_string(i) + " [label=\"" + std::to_string(++step) + ": d ";
        detail::for_each_node<Net::node_count>([&]<std::size_t I>() {
            if (I == i)
                out += std::string(Net::template node_at<I>::name.view()) + "\\n" +
                       Net::template node_at<I>::layer::name() + " backward";
        });
        out += "\"];\n";
        for (std::size_t k = 0; k < Net::arity[i]; ++k)
            out += "  g" + std::to_string(i) + " -> g" + std::to_string(Net::inputs[i][k]) +
                   (Net::accumulates[i][k] ? " [style=dashed, label=\"+=\"];\n" : ";\n");
        detail::for_each_node<Net::node_count>([&]<std::size_t I>() {
            if (I != i) return;
            for (const tensor_spec& s : Net::template node_at<I>::bind::parameters) {
                const std::string p = std::string(Net::template node_at<I>::name.view()) + "." + s.name;
                out += "  \"" + p + "\" [shape=ellipse, label=\"d " + p + "\"];\n  g" + std::to_string(i) +
                       " -> \"" + p + "\";\n";
            }
        });
    }
    out += "  g0 [label=\"d input\"];\n";
    return out + "}\n";
}

}  // namespace katachi::graph
