// katachi/graph/inference.hpp: inference from one fixed arena, for embedded builds.
//
//   graph::inference_model<lenet, float, 1> net;     // weights and arena inside: no heap at all
//   net.load(trained);                               // from a graph::model (or fill weights())
//   auto logits = net.forward(image);                // image [1, 1, 28, 28]; logits [1, 10]
//
// The arena's size is Net::inference_arena_bytes(MaxBatch), known at compile time: node outputs
// are packed by liveness (graph/properties.hpp), so outputs never alive at the same time share
// memory, and one scratch region serves every layer in turn. There is no gradient storage; batch
// norm and dropout run as in evaluation. forward allocates nothing, the first one included.
// The object holds a copy of the weights, and of the weights some layers read in another form (a
// Winograd convolution's transform, Net::prepared_count elements), made once per load.
// graph::flash_model (graph/flash_model.hpp) runs the same loop (graph/inference_loop.hpp) with the
// weights read in place from const memory instead, and prepares nothing.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <katachi/error.hpp>
#include <katachi/graph/inference_loop.hpp>
#include <katachi/graph/model.hpp>
#include <stdexcept>
#include <string>

namespace katachi::graph {

template <class Net, class T = float, std::size_t MaxBatch = 1>
class inference_model {
public:
    using network = Net;
    static constexpr std::size_t max_batch = MaxBatch;
    static constexpr std::size_t arena_bytes = Net::template inference_arena_bytes<T>(MaxBatch);
    static constexpr std::size_t nodes = Net::node_count;

    // Starts katachi's thread pool if it has not started, and grows its workers' scratch for every
    // batch size up to MaxBatch: after construction, forward allocates nothing on any thread.
    inference_model() { detail::reserve_worker_scratch<Net, T>(1, MaxBatch, false); }

    // Copies the parameters, buffers and batch counters of a trained model, and prepares the
    // weights that some layers read in another form (a Winograd convolution's transform): once per
    // load rather than once per forward.
    void load(model<Net, T>& trained) {
        if constexpr (Net::parameter_count > 0) std::ranges::copy(trained.all_parameters(), params_.begin());
        if constexpr (Net::buffer_count > 0) std::ranges::copy(trained.all_buffers(), buffers_.begin());
        if constexpr (Net::counter_count > 0) std::ranges::copy(trained.all_counters(), counters_.begin());
        prepare();
    }

    // The parameters, to read or write: writing through the span is allowed, so the prepared form
    // is made again at the next forward.
    std::span<T> weights() {
        prepared_ok_ = false;
        return params_;
    }
    std::span<T> buffers() { return buffers_; }

    // Runs the model on x [N, input shape...] with N <= MaxBatch; the returned view of the output
    // lives in the arena until the next forward.
    template <class X>
    auto forward(const X& x) {
        using S = typename Net::input_shape;
        bool ok = x.dimension() == S::rank + 1 && x.shape()[0] <= MaxBatch;
        for (std::size_t i = 0; ok && i < S::rank; ++i) ok = x.shape()[i + 1] == S::dims[i];
        if (!ok) {
            katachi::detail::sentence s;
            s << "inference_model::forward: the input has shape ";
            kernels::detail::append_shape(s, x);
            s << ", expected [N <= " << MaxBatch << "] followed by shape<";
            for (std::size_t i = 0; i < S::rank; ++i) s << (i ? ", " : "") << S::dims[i];
            KATACHI_THROW(shape_mismatch, (s << ">").c_str());
        }
        if (!prepared_ok_) prepare();
        const T* y = detail::run_inference<Net, T, MaxBatch>(
            kernels::detail::data_of(x), x.shape()[0], params_.data(), buffers_.data(), arena_.data(), gen_,
            Net::prepared_count > 0 ? prepared_.data() : nullptr);
        return detail::user_view<typename Net::output_shape>(y, x.shape()[0]);
    }

private:
    void prepare() {
        if constexpr (Net::prepared_count > 0)
            detail::prepare_inference<Net, T>(params_.data(), prepared_.data());
        prepared_ok_ = true;
    }

    std::array<T, Net::parameter_count> params_{};
    std::array<T, Net::prepared_count> prepared_{};
    bool prepared_ok_ = false;
    std::array<T, Net::buffer_count> buffers_{};
    std::array<std::int64_t, Net::counter_count> counters_{};
    alignas(64) std::array<std::byte, arena_bytes> arena_{};
    generator gen_;
};

}  // namespace katachi::graph
