// katachi/graph/flash_model.hpp: inference with the weights read in place from const memory (a
// microcontroller's flash), and the checkpoints katachi-embed bakes into a program.
//
//   #include "classifier_weights.hpp"                  // written by katachi-embed from a checkpoint
//   using net = graph::sequential<graph::input<1, 28, 28>, ...>;
//   constexpr auto weights = graph::embed<net>(classifier_weights::checkpoint);  // checked, in .rodata
//   graph::flash_model<net, float, 1> model(weights);  // RAM: the activation arena, nothing else
//   std::span<const float> logits = model.forward(image, 1);   // image: 784 floats
//
// embed<Net> runs at compile time: it finds every parameter and buffer of Net in the checkpoint under
// its state-dict name ("0.weight", "bn1.running_mean"), checks its shape, and lays the values out in
// Net's order, so the array the program reads is in flash and nothing is copied at run time. A
// checkpoint of another architecture does not compile; the error names what is wrong (a call to a
// function of katachi::graph::embed_error, such as a_tensor_of_the_network_is_missing_from_the_checkpoint).
//
// flash_model's RAM is its arena, Net::inference_arena_bytes<T>(MaxBatch), a compile-time figure;
// fits_budget<Model, Bytes>() turns a budget into a compile error naming both numbers. Like
// inference_model it needs no heap, no exceptions and no xtensor; forward allocates nothing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <katachi/diagnostics.hpp>
#include <katachi/error.hpp>
#include <katachi/graph/inference_loop.hpp>
#include <katachi/graph/node_loop.hpp>
#include <katachi/kernels/common.hpp>
#include <katachi/kernels/conv_scratch.hpp>
#include <span>
#include <string_view>

namespace katachi::graph {

// One tensor of an embedded checkpoint: its state-dict name, shape, and where its values start in
// the checkpoint's one array.
struct embedded_tensor {
    const char* name = "";
    std::size_t rank = 0;
    std::array<std::size_t, 4> dims{};
    std::size_t offset = 0;

    constexpr std::size_t size() const {
        std::size_t n = 1;
        for (std::size_t i = 0; i < rank; ++i) n *= dims[i];
        return n;
    }
};

// What katachi-embed writes: the floating-point tensors of a checkpoint (in the file's order) over
// one array of values. Integer tensors (num_batches_tracked) are left out: inference does not read them.
template <class T>
struct embedded_checkpoint {
    const embedded_tensor* tensors = nullptr;
    std::size_t tensor_count = 0;
    const T* values = nullptr;
    std::size_t value_count = 0;
};

// Net's parameters and buffers in Net's order, ready for flash_model.
template <class Net, class T>
struct embedded_weights {
    alignas(64) std::array<T, Net::parameter_count> parameters{};
    alignas(64) std::array<T, Net::buffer_count> buffers{};
};

// The compile-time errors of embed: each is a function that is not constexpr, so reaching one stops
// the compilation and the diagnostic names it.
namespace embed_error {
void a_tensor_of_the_network_is_missing_from_the_checkpoint(const char* node, const char* tensor);
void a_tensor_of_the_checkpoint_has_another_shape_than_the_network_gives_it(const char* node, const char* tensor);
void the_checkpoint_holds_values_the_network_does_not_have(std::size_t checkpoint_values, std::size_t network_values);
}  // namespace embed_error

namespace detail {

constexpr bool names_tensor(std::string_view key, std::string_view node, std::string_view tensor) {
    return key.size() == node.size() + 1 + tensor.size() && key.starts_with(node) && key[node.size()] == '.' &&
           key.ends_with(tensor);
}

// Copies the tensor of `checkpoint` named <node>.<spec.name> to `out`, checking its shape.
template <class T>
constexpr void embed_tensor(const embedded_checkpoint<T>& checkpoint, std::string_view node, const char* node_text,
                            const tensor_spec& spec, T* out) {
    for (std::size_t t = 0; t < checkpoint.tensor_count; ++t) {
        const embedded_tensor& e = checkpoint.tensors[t];
        if (!names_tensor(e.name, node, spec.name)) continue;
        bool same = e.rank == spec.rank;
        for (std::size_t d = 0; same && d < spec.rank; ++d) same = e.dims[d] == spec.dims[d];
        if (!same) embed_error::a_tensor_of_the_checkpoint_has_another_shape_than_the_network_gives_it(node_text, spec.name);
        for (std::size_t i = 0; i < spec.size(); ++i) out[i] = checkpoint.values[e.offset + i];
        return;
    }
    embed_error::a_tensor_of_the_network_is_missing_from_the_checkpoint(node_text, spec.name);
}

}  // namespace detail

// Net's parameters and buffers taken from `checkpoint` at compile time (see the top of this file).
// Every value of the checkpoint must be used: a checkpoint with tensors Net does not have is refused.
template <class Net, class T>
consteval embedded_weights<Net, T> embed(const embedded_checkpoint<T>& checkpoint) {
    embedded_weights<Net, T> out;
    std::size_t checkpoint_values = 0;
    for (std::size_t t = 0; t < checkpoint.tensor_count; ++t) checkpoint_values += checkpoint.tensors[t].size();
    if (checkpoint_values != Net::parameter_count + Net::buffer_count)
        embed_error::the_checkpoint_holds_values_the_network_does_not_have(checkpoint_values,
                                                                         Net::parameter_count + Net::buffer_count);
    detail::for_each_node<Net::node_count>([&]<std::size_t I>() {
        using N = typename Net::template node_at<I>;
        std::size_t at = Net::param_offsets[I];
        for (const tensor_spec& s : N::bind::parameters) {
            detail::embed_tensor(checkpoint, N::name.view(), N::name.text, s, out.parameters.data() + at);
            at += s.size();
        }
        at = Net::buffer_offsets[I];
        for (const tensor_spec& s : N::bind::buffers) {
            detail::embed_tensor(checkpoint, N::name.view(), N::name.text, s, out.buffers.data() + at);
            at += s.size();
        }
    });
    return out;
}

// Runs Net with its parameters and buffers read where they are (flash, a constexpr array, any
// const memory that outlives the model). The object is the arena and two pointers.
template <class Net, class T = float, std::size_t MaxBatch = 1>
class flash_model {
public:
    using network = Net;
    static constexpr std::size_t max_batch = MaxBatch;
    static constexpr std::size_t arena_bytes = Net::template inference_arena_bytes<T>(MaxBatch);
    static constexpr std::size_t input_size = Net::input_shape::size;
    static constexpr std::size_t output_size = Net::output_shape::size;

    explicit flash_model(const embedded_weights<Net, T>& weights)
        : flash_model(std::span<const T, Net::parameter_count>(weights.parameters),
                      std::span<const T, Net::buffer_count>(weights.buffers)) {}

    // Starts katachi's thread pool where there is one and reserves its workers' scratch, as
    // inference_model does; on a single-threaded build it does nothing.
    flash_model(std::span<const T, Net::parameter_count> parameters, std::span<const T, Net::buffer_count> buffers)
        : params_(parameters.data()), buffers_(buffers.data()) {
        detail::reserve_worker_scratch_for_inference<Net, T>(MaxBatch);
    }

    // Runs `batch` samples at `input` ([batch, input shape...], row-major); the output [batch,
    // output shape...] lives in the arena until the next forward.
    std::span<const T> forward(const T* input, std::size_t batch) {
        if (batch == 0 || batch > MaxBatch)
            KATACHI_THROW(shape_mismatch, (katachi::detail::sentence()
                                           << "flash_model::forward: batch " << batch << " is outside 1.."
                                           << MaxBatch << ", the model's largest batch")
                                              .c_str());
        const T* y = detail::run_inference<Net, T, MaxBatch>(input, batch, params_, buffers_, arena_.data(), gen_);
        return {y, batch * output_size};
    }

    // The same on a span of whole samples.
    std::span<const T> forward(std::span<const T> input) {
        if (input.size() % input_size != 0)
            KATACHI_THROW(shape_mismatch, (katachi::detail::sentence()
                                           << "flash_model::forward: the input holds " << input.size()
                                           << " values, not a whole number of samples of " << input_size)
                                              .c_str());
        return forward(input.data(), input.size() / input_size);
    }

    std::span<const T> parameters() const { return {params_, Net::parameter_count}; }
    std::span<const T> buffers() const { return {buffers_, Net::buffer_count}; }

private:
    const T* params_;
    const T* buffers_;
    alignas(64) std::array<std::byte, arena_bytes> arena_{};
    generator gen_;
};

// Whether Model's arena (Model::arena_bytes: an inference_model's or a flash_model's) fits in
// Budget bytes; when it does not, a compile error names both numbers (diagnostics.hpp).
template <class Model, std::size_t Budget>
constexpr bool fits_budget() {
    if constexpr (Model::arena_bytes > Budget)
        return memory_budget_error<arena_bytes<Model::arena_bytes>, budget_bytes<Budget>>::ok;
    else
        return true;
}

}  // namespace katachi::graph
