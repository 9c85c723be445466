// katachi/graph/summary.hpp: a table of a model (node, layer, output shape, parameters) and its
// totals. Every number in it is a constant of the type; summary<Net>() only prints them.
// summary<Net>(bucket_options{...}) adds data-parallel training's all-reduce plan (bucket_plan.hpp):
// which gradients each bucket holds and after which node's backward its all-reduce starts.
//
//   node   layer                       output              parameters
//   0      conv2d<32, 3, padding<1>>   shape<32, 28, 28>          320
//   ...
//   total parameters 421642 (1.61 MiB as float), activations per sample 98.4 KiB
#pragma once

#include <cstddef>
#include <cstdio>
#include <katachi/graph/bucket_plan.hpp>
#include <katachi/graph/node_loop.hpp>
#include <katachi/graph/sequential.hpp>
#include <string>
#include <vector>

namespace katachi::graph {

template <class Net, class T = float>
std::string summary() {
    struct row {
        std::string node, layer, shape, params;
    };
    std::vector<row> rows{{"node", "layer", "output", "parameters"}};
    detail::for_each_node<Net::node_count>([&]<std::size_t I>() {
        using N = typename Net::template node_at<I>;
        rows.push_back({std::string(N::name.view()), N::layer::name(), N::output_shape::str(),
                        std::to_string(Net::param_sizes[I])});
    });
    std::size_t w[3] = {0, 0, 0};
    for (const row& r : rows) {
        w[0] = std::max(w[0], r.node.size());
        w[1] = std::max(w[1], r.layer.size());
        w[2] = std::max(w[2], r.shape.size());
    }
    const auto pad = [](const std::string& s, std::size_t n) {
        return s + std::string(n - s.size() + 2, ' ');
    };
    std::string out;
    for (const row& r : rows)
        out += pad(r.node, w[0]) + pad(r.layer, w[1]) + pad(r.shape, w[2]) +
               std::string(10 - std::min<std::size_t>(10, r.params.size()), ' ') + r.params + "\n";
    char totals[160];
    std::snprintf(totals, sizeof totals, "total parameters %zu (%.2f MiB), activations per sample %.1f KiB\n",
                  Net::parameter_count,
                  static_cast<double>(Net::template parameter_bytes<T>) / (1024.0 * 1024.0),
                  static_cast<double>(Net::template activation_bytes_per_sample<T>) / 1024.0);
    return out + totals;
}

// The summary, then the all-reduce plan of data-parallel training with these bucket sizes:
//     all-reduce buckets, in the order the backward finishes them (caps 25 MiB, first 1 MiB):
//     bucket 0  node 9             1290 gradients (5.0 KiB)  starts after node 9's backward
//     bucket 1  nodes 7..0       420352 gradients (1642.0 KiB)  starts after node 0's backward
template <class Net, class T = float>
std::string summary(const bucket_options& o) {
    const auto plan = bucket_plan<Net, T>(o);
    std::vector<std::string> names;
    detail::for_each_node<Net::node_count>(
        [&]<std::size_t I>() { names.emplace_back(Net::template node_at<I>::name.view()); });
    char line[256];
    std::snprintf(line, sizeof line, "all-reduce buckets, in the order the backward finishes them (caps %zu MiB, first %zu MiB):\n",
                  o.bucket_cap_mb, o.first_bucket_cap_mb);
    std::string out = summary<Net, T>() + line;
    for (std::size_t k = 0; k < plan.count; ++k) {
        const gradient_bucket& b = plan.buckets[k];
        const std::string nodes = b.first_node == b.last_node ? "node " + names[b.first_node]
                                                              : "nodes " + names[b.last_node] + ".." + names[b.first_node];
        std::snprintf(line, sizeof line, "  bucket %zu  %-16s %10zu gradients (%.1f KiB)  starts after node %s's backward\n", k,
                      nodes.c_str(), b.size, static_cast<double>(b.size * sizeof(T)) / 1024.0, names[b.first_node].c_str());
        out += line;
    }
    return out;
}

}  // namespace katachi::graph
