// katachi/graph/bucket_plan.hpp: how data-parallel training all-reduces a graph model's gradients,
// planned at compile time from the order of the generated backward.
//
// The backward visits the nodes in reverse order and a node writes all its parameter gradients at
// once, so gradients become final node by node, from the last node to the first. The plan walks
// the nodes in that order and packs their gradients into buckets of at most `bucket_cap_mb`
// (the first bucket, which is final earliest, at most `first_bucket_cap_mb`; a node larger than
// the cap is a bucket of its own). A model keeps its gradients in one array in node order, so a
// bucket is one contiguous range of it, reduced in place with no copy. Each bucket's all-reduce
// starts right after the backward of its lowest-numbered node, the last of its gradients to be
// written: `starts_after[i]` names the bucket, if any, that starts after node i.
//
//   constexpr auto plan = graph::bucket_plan<lenet, float>({.bucket_cap_mb = 1});
//   static_assert(plan.count == 3);       // lenet: fc2, then fc1, then the convolutions
//   std::puts(graph::summary<lenet>(graph::bucket_options{.bucket_cap_mb = 1}).c_str());
//
// distributed::data_parallel (katachi/distributed/graph.hpp) runs the plan; this header needs no MPI.
#pragma once

#include <array>
#include <cstddef>

namespace katachi::graph {

// The sizes in MiB of PyTorch's DistributedDataParallel: 25 for a bucket, 1 for the first.
struct bucket_options {
    std::size_t bucket_cap_mb = 25;
    std::size_t first_bucket_cap_mb = 1;
};

// One all-reduce: gradients [offset, offset + size) of the model's gradient array, those of nodes
// first_node (the lowest index, whose backward runs last and starts it) to last_node.
struct gradient_bucket {
    std::size_t offset = 0, size = 0, first_node = 0, last_node = 0;
};

template <std::size_t Nodes>
struct bucket_plan_of {
    std::size_t count = 0;                      // buckets, in the order they start
    std::array<gradient_bucket, Nodes> buckets{};  // at most one per node
    std::array<std::ptrdiff_t, Nodes> starts_after{};  // node -> the bucket it starts, or -1
    bucket_options options{};
};

template <class Net, class T = float>
constexpr bucket_plan_of<Net::node_count> bucket_plan(const bucket_options& o = {}) {
    bucket_plan_of<Net::node_count> p;
    p.options = o;
    for (auto& s : p.starts_after) s = -1;
    constexpr std::size_t mib = std::size_t(1) << 20;
    std::size_t open_bytes = 0;  // gradients in the bucket being filled
    bool open = false;
    gradient_bucket b;
    const auto close = [&] {
        p.starts_after[b.first_node] = static_cast<std::ptrdiff_t>(p.count);
        p.buckets[p.count++] = b;
        open = false;
        open_bytes = 0;
    };
    for (std::size_t i = Net::node_count; i-- > 0;) {
        const std::size_t n = Net::param_sizes[i];
        if (n == 0) continue;
        const auto cap = [&] { return (p.count == 0 ? o.first_bucket_cap_mb : o.bucket_cap_mb) * mib; };
        if (open && open_bytes + n * sizeof(T) > cap()) close();
        if (!open) {
            b = {0, 0, i, i};
            open = true;
        }
        b.offset = Net::param_offsets[i];
        b.size += n;
        b.first_node = i;
        open_bytes += n * sizeof(T);
        if (open_bytes >= cap()) close();
    }
    if (open) close();
    return p;
}

}  // namespace katachi::graph
