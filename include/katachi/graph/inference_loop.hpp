// katachi/graph/inference_loop.hpp: one inference pass of a network through a fixed arena; what
// inference_model (graph/inference.hpp) and flash_model (graph/flash_model.hpp) both run.
//
// The arena holds, in this order: the node outputs packed by liveness (Net::arena_offsets, per
// sample, times the batch), one scratch region every layer uses in turn (what it saves and its
// workspace), then, 64-byte aligned, the int64 indices layers such as max pooling write. Its size is
// Net::inference_arena_bytes<T>(MaxBatch). Batch norm and dropout run as in evaluation. Nothing here
// allocates, checks a shape (the types did) or includes xtensor: a small device's build uses it as is.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <katachi/graph/layer.hpp>
#include <katachi/graph/node_loop.hpp>
#include <katachi/kernels/conv_scratch.hpp>
#include <katachi/random.hpp>

namespace katachi::graph::detail {

// Grows the pool's per-thread convolution scratch (kernels/conv_scratch.hpp) for every node of Net
// at each batch size in [first_batch, last_batch], so that running the model at those sizes
// allocates nothing on any thread. The largest over the sizes is kept: a convolution's path, and so
// its scratch, can change with the batch.
template <class Net, class T>
void reserve_worker_scratch(std::size_t first_batch, std::size_t last_batch, bool weight_grads) {
    std::size_t workspace = 0, params = 0;
    for (std::size_t batch = first_batch; batch <= last_batch; ++batch)
        for_each_node<Net::node_count>([&]<std::size_t I>() {
            using B = typename Net::template node_at<I>::bind;
            const std::size_t w = B::workspace_size(batch);
            workspace = std::max(workspace, w);
            if (w > 0) params = std::max(params, Net::param_sizes[I]);
        });
    kernels::detail::reserve_conv_scratch<T>(workspace, params, weight_grads);
    // The pool itself (its workers) is started here too: a model without convolutions still splits
    // its large products over the workers, and the first of them must not be the one to start them.
    (void)katachi::detail::thread_pool::instance();
}

template <class Net, class T>
void reserve_worker_scratch_for_inference(std::size_t max_batch) {
    reserve_worker_scratch<Net, T>(1, max_batch, false);
}

// Where the int64 indices start in the arena of a model run at up to max_batch samples.
template <class Net, class T>
constexpr std::size_t inference_index_offset(std::size_t max_batch) {
    const std::size_t values =
        Net::arena_activation_count_per_sample * max_batch + Net::inference_scratch_count(max_batch);
    return (values * sizeof(T) + 63) / 64 * 64;
}

// Runs Net on `batch` samples at `input` (batch <= MaxBatch, [batch, input shape...] row-major),
// with its parameters and buffers read in place, and returns the output [batch, output shape...],
// which lives in the arena until the next run. The parameters and buffers are only read: layers take
// them through a T* (layer_args), and no layer writes either when training is false. `prepared`
// (may be null) holds Net::prepared_count elements that prepare_inference made from these params.
template <class Net, class T, std::size_t MaxBatch>
const T* run_inference(const T* input, std::size_t batch, const T* params, const T* buffers, std::byte* arena,
                       generator& gen, const T* prepared = nullptr) {
    T* values = reinterpret_cast<T*>(arena);
    T* scratch = values + Net::arena_activation_count_per_sample * batch;
    auto* indices = reinterpret_cast<std::int64_t*>(arena + inference_index_offset<Net, T>(MaxBatch));
    const auto out = [&](std::size_t i) {
        return i == 0 ? const_cast<T*>(input) : values + Net::arena_offsets[i] * batch;
    };
    for_each_node<Net::node_count>([&]<std::size_t I>() {
        if constexpr (I > 0) {
            using B = typename Net::template node_at<I>::bind;
            layer_args<T> a;
            a.batch = batch;
            a.training = false;
            a.backward_follows = false;
            for (std::size_t k = 0; k < Net::arity[I]; ++k) a.x[k] = out(Net::inputs[I][k]);
            a.y = out(I);
            a.params = const_cast<T*>(params) + Net::param_offsets[I];
            a.buffers = const_cast<T*>(buffers) + Net::buffer_offsets[I];
            a.saved = scratch;
            a.workspace = scratch + B::saved_size(batch);
            a.indices = indices;
            a.gen = &gen;
            if (prepared != nullptr && Net::prepared_sizes[I] > 0)
                a.prepared = prepared + Net::prepared_offsets[I];
            B::forward(a);
        }
    });
    return out(Net::node_count - 1);
}

// Runs each node's prepare (graph/properties.hpp: prepared_size) on its parameters into
// prepared[Net::prepared_count]: the weights in the form the forward reads them, once per load.
template <class Net, class T>
void prepare_inference(const T* params, T* prepared) {
    for_each_node<Net::node_count>([&]<std::size_t I>() {
        if constexpr (Net::prepared_sizes[I] > 0)
            Net::template node_at<I>::bind::prepare(params + Net::param_offsets[I],
                                                    prepared + Net::prepared_offsets[I]);
    });
}

}  // namespace katachi::graph::detail
