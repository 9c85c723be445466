// katachi/graph/properties.hpp: what the compiler knows of a bound graph: shapes, parameter and
// buffer layouts, consumers, and the inference arena planned by liveness. All constexpr. The graph
// is the one graph/fusion.hpp rewrote: a relu taken in by its max pooling is no node of it.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <katachi/graph/network.hpp>

namespace katachi::graph::detail {

inline constexpr std::size_t max_inputs = 2;

template <class Inputs>
struct input_array;
template <std::size_t... I>
struct input_array<input_indices<I...>> {
    static constexpr std::size_t arity = sizeof...(I);
    static constexpr std::array<std::size_t, max_inputs> value = [] {
        static_assert(sizeof...(I) <= max_inputs, "a node consumes at most two nodes");
        std::array<std::size_t, max_inputs> a{};
        std::size_t k = 0;
        ((a[k++] = I), ...);
        return a;
    }();
};

template <std::size_t N>
constexpr std::array<std::size_t, N + 1> prefix_sums(const std::array<std::size_t, N>& v) {
    std::array<std::size_t, N + 1> out{};
    for (std::size_t i = 0; i < N; ++i) out[i + 1] = out[i] + v[i];
    return out;
}

// The int64 elements a bound layer's forward needs in inference_model: its index_size unless it
// says otherwise (max_pool2d keeps no indices when no backward follows).
template <class Bind>
constexpr std::size_t inference_index_size(std::size_t batch) {
    if constexpr (requires { Bind::inference_index_size(batch); })
        return Bind::inference_index_size(batch);
    else
        return Bind::index_size(batch);
}

// The elements a bound layer's prepare() makes once per load for inference_model (a weight in the
// form its forward reads): its prepared_size() where it has one, else 0.
template <class Bind>
constexpr std::size_t prepared_size() {
    if constexpr (requires { Bind::prepared_size(); })
        return Bind::prepared_size();
    else
        return 0;
}

template <class Nodes>
struct graph_properties;

template <class... B>
struct graph_properties<type_list<B...>> {
    static constexpr std::size_t node_count = sizeof...(B);
    using nodes = type_list<B...>;
    template <std::size_t I>
    using node_at = nth<I, B...>;
    using input_shape = typename node_at<0>::output_shape;
    using output_shape = typename node_at<node_count - 1>::output_shape;

    static constexpr std::array<std::size_t, node_count> param_sizes{total_size(B::bind::parameters)...};
    static constexpr std::array<std::size_t, node_count> buffer_sizes{total_size(B::bind::buffers)...};
    static constexpr std::array<std::size_t, node_count> counter_sizes{
        (B::bind::tracks_batches ? 1u : 0u)...};
    static constexpr std::array<std::size_t, node_count> output_sizes{B::output_shape::size...};
    static constexpr auto param_offsets = prefix_sums(param_sizes);
    static constexpr auto buffer_offsets = prefix_sums(buffer_sizes);
    static constexpr auto counter_offsets = prefix_sums(counter_sizes);
    static constexpr std::array<std::size_t, node_count> prepared_sizes{prepared_size<typename B::bind>()...};
    static constexpr auto prepared_offsets = prefix_sums(prepared_sizes);
    static constexpr std::size_t prepared_count = prepared_offsets[node_count];
    static constexpr auto output_offsets = prefix_sums(output_sizes);  // per sample
    static constexpr std::array<std::size_t, node_count> arity{input_array<typename B::inputs>::arity...};
    static constexpr std::array<std::array<std::size_t, max_inputs>, node_count> inputs{
        input_array<typename B::inputs>::value...};

    static constexpr std::size_t parameter_count = param_offsets[node_count];
    static constexpr std::size_t buffer_count = buffer_offsets[node_count];
    static constexpr std::size_t counter_count = counter_offsets[node_count];
    template <class T = float>
    static constexpr std::size_t parameter_bytes = parameter_count * sizeof(T);

    // Elements of every node's output for one sample (the input excluded): what training keeps,
    // once more for the gradients.
    static constexpr std::size_t activation_count_per_sample = [] {
        std::size_t n = 0;
        for (std::size_t i = 1; i < node_count; ++i) n += output_sizes[i];
        return n;
    }();
    template <class T = float>
    static constexpr std::size_t activation_bytes_per_sample = activation_count_per_sample * sizeof(T);

    // The last node that reads node i's output (the output node is read by the caller: node_count).
    static constexpr std::array<std::size_t, node_count> last_use = [] {
        std::array<std::size_t, node_count> last{};
        for (std::size_t i = 0; i < node_count; ++i)
            for (std::size_t k = 0; k < arity[i]; ++k) last[inputs[i][k]] = std::max(last[inputs[i][k]], i);
        last[node_count - 1] = node_count;
        return last;
    }();

    // Nodes whose output reaches the model's output (the others need no backward).
    static constexpr std::array<bool, node_count> live = [] {
        std::array<bool, node_count> l{};
        l[node_count - 1] = true;
        for (std::size_t i = node_count; i-- > 0;)
            if (l[i])
                for (std::size_t k = 0; k < arity[i]; ++k) l[inputs[i][k]] = true;
        return l;
    }();

    // Whether node i's gradient into input slot k adds to what is there: the backward runs in
    // reverse order, so the live consumer with the highest index (its first slot) writes first.
    static constexpr std::array<std::array<bool, max_inputs>, node_count> accumulates = [] {
        std::array<std::array<bool, max_inputs>, node_count> acc{};
        std::array<bool, node_count> written{};
        for (std::size_t i = node_count; i-- > 0;) {
            if (!live[i]) continue;
            for (std::size_t k = 0; k < arity[i]; ++k) {
                acc[i][k] = written[inputs[i][k]];
                written[inputs[i][k]] = true;
            }
        }
        return acc;
    }();

    // ---------------------------------------------------------------------------------------
    // The inference arena: node outputs packed first-fit by liveness (node i lives from its
    // forward to the forward of its last consumer), per sample; the input stays the caller's.
    // ---------------------------------------------------------------------------------------
    // Elements of node i's output in the arena.
    static constexpr std::array<std::size_t, node_count> arena_sizes = output_sizes;
    static constexpr std::array<std::size_t, node_count> arena_offsets = [] {
        std::array<std::size_t, node_count> at{};
        for (std::size_t i = 1; i < node_count; ++i) {
            std::size_t offset = 0;
            for (bool moved = true; moved;) {
                moved = false;
                for (std::size_t j = 1; j < i; ++j) {
                    const bool alive_together = last_use[j] >= i;
                    const bool overlap = offset < at[j] + arena_sizes[j] && at[j] < offset + arena_sizes[i];
                    if (alive_together && overlap) {
                        offset = at[j] + arena_sizes[j];
                        moved = true;
                    }
                }
            }
            at[i] = offset;
        }
        return at;
    }();
    static constexpr std::size_t arena_activation_count_per_sample = [] {
        std::size_t end = 0;
        for (std::size_t i = 1; i < node_count; ++i) end = std::max(end, arena_offsets[i] + arena_sizes[i]);
        return end;
    }();

    // The liveness lower bound of any packing, per sample: the most output elements alive at once
    // (while node i is written, i and every earlier node read by i or later). The arena above
    // reaches it when first-fit leaves no gap; the embedded report prints both.
    static constexpr std::size_t arena_liveness_bound_per_sample = [] {
        std::size_t most = 0;
        for (std::size_t i = 1; i < node_count; ++i) {
            std::size_t alive = arena_sizes[i];
            for (std::size_t j = 1; j < i; ++j)
                if (last_use[j] >= i) alive += arena_sizes[j];
            most = std::max(most, alive);
        }
        return most;
    }();

    // Scratch of T one layer call needs in inference (kept and temporary alike), and of int64.
    static constexpr std::size_t inference_scratch_count(std::size_t batch) {
        return std::max({std::size_t{0}, (B::bind::saved_size(batch) + B::bind::workspace_size(batch))...});
    }
    static constexpr std::size_t inference_index_count(std::size_t batch) {
        return std::max({std::size_t{0}, inference_index_size<typename B::bind>(batch)...});
    }
    // Bytes of the one arena an inference of `batch` samples runs in.
    template <class T = float>
    static constexpr std::size_t inference_arena_bytes(std::size_t batch) {
        const std::size_t values = arena_activation_count_per_sample * batch + inference_scratch_count(batch);
        const std::size_t padded = (values * sizeof(T) + 63) / 64 * 64;
        return padded + inference_index_count(batch) * sizeof(std::int64_t);
    }

    // Training memory for a batch: every output and its gradient, what layers keep, one workspace.
    static constexpr std::size_t saved_count(std::size_t batch) {
        return (B::bind::saved_size(batch) + ... + 0);
    }
    static constexpr std::size_t index_count(std::size_t batch) {
        return (B::bind::index_size(batch) + ... + 0);
    }
    static constexpr std::size_t workspace_count(std::size_t batch) {
        return std::max({std::size_t{0}, B::bind::workspace_size(batch)...});
    }
};

}  // namespace katachi::graph::detail
