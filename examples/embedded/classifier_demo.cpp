// examples/embedded/classifier_demo.cpp: the Fashion-MNIST classifier on the Cortex-M7.
//
// Its weights were trained by the graph face on the host (train_classifier.cpp) and baked in by
// katachi-embed: they stay in flash, read in place by graph::flash_model. The image classifies the
// test images it holds, then fine-tunes the classifier head on the first of them: the trunk stays
// frozen in flash and gives each image's features, the head trains in a graph::static_model by SGD,
// with the backward katachi generates. No heap, no exceptions, no std::string: the only RAM is the
// models' arenas and the buffers below, all static. check_classifier.py compares every printed value
// with classifier_host.cpp's, the same steps on the host.
#include "runtime.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <katachi/graph/flash_model.hpp>
#include <katachi/graph/model.hpp>
#include <katachi/optim/sgd.hpp>
#include <span>

#include "classifier.hpp"
#include "classifier_weights.hpp"  // katachi-embed classifier.safetensors
#include "test_images.hpp"         // make_images_header

namespace {

using classifier::batch;
using classifier::head;
using classifier::network;
using classifier::trunk;

// Checked against the network at compile time (every name and shape) and laid out in its order.
constexpr auto weights = katachi::graph::embed<network>(classifier_weights::checkpoint);

[[noreturn]] void on_error(const char* message) noexcept {
    device::line() << "FAIL: katachi: " << message;
    device::exit(6);
}

device::line::hex bits(float v) { return {std::bit_cast<std::uint32_t>(v), 8}; }

// Writes the normalised pixels of images [first, first + count) to x.
void load_images(std::size_t first, std::size_t count, float* x) {
    for (std::size_t i = 0; i < count; ++i)
        for (std::size_t p = 0; p < 784; ++p) x[i * 784 + p] = classifier::normalise(test_images::pixels[first + i][p]);
}

constexpr std::size_t one = classifier::inference_batch;

// The RAM: two arenas (the whole network's and the trunk's, one image each), the head in training
// (parameters, gradients, workspace of a batch), the inputs and the features. All static.
using network_model = katachi::graph::flash_model<network, float, one>;
using trunk_model = katachi::graph::flash_model<trunk, float, one>;
// The budget this example holds itself to: a compile error names both numbers if it grows past it.
static_assert(katachi::graph::fits_budget<network_model, 96 * 1024>());
network_model net(weights);
// The trunk's parameters are the network's first ones, read in place from flash.
trunk_model frozen(std::span<const float, trunk::parameter_count>(weights.parameters.data(), trunk::parameter_count),
                   std::span<const float, 0>());
katachi::graph::static_model<head, float, batch> tuned;
float input[one * 784];
float features[classifier::fine_tune_images * 32];
std::int64_t targets[batch];

}  // namespace

int main() {
    katachi::set_error_handler(on_error);
    device::line() << "memory arena " << static_cast<unsigned>(network_model::arena_bytes) << " activations "
                   << static_cast<unsigned>(network::arena_activation_count_per_sample * one * sizeof(float))
                   << " liveness_bound "
                   << static_cast<unsigned>(network::arena_liveness_bound_per_sample * one * sizeof(float))
                   << " trunk_arena " << static_cast<unsigned>(trunk_model::arena_bytes) << " head_training "
                   << static_cast<unsigned>(sizeof tuned) << " inputs_and_features "
                   << static_cast<unsigned>(sizeof input + sizeof features + sizeof targets);

    // Inference: predictions and logits of every image held.
    unsigned right = 0;
    for (std::size_t first = 0; first < classifier::inference_images; first += one) {
        load_images(first, one, input);
        const std::span<const float> logits = net.forward(input, one);
        for (std::size_t i = 0; i < one; ++i) {
            const float* l = logits.data() + i * 10;
            unsigned best = 0;
            for (unsigned c = 1; c < 10; ++c)
                if (l[c] > l[best]) best = c;
            const auto label = static_cast<unsigned>(test_images::labels[first + i]);
            right += best == label;
            device::line out;
            out << "predict " << static_cast<unsigned>(first + i) << ' ' << best << ' ' << label;
            for (unsigned c = 0; c < 10; ++c) out << ' ' << bits(l[c]);
        }
    }
    device::line() << "correct " << right << " of " << static_cast<unsigned>(classifier::inference_images);

    // Fine-tuning: the frozen trunk gives each image's features, the head trains on them.
    for (std::size_t first = 0; first < classifier::fine_tune_images; first += one) {
        load_images(first, one, input);
        const std::span<const float> f = frozen.forward(input, one);
        for (std::size_t i = 0; i < f.size(); ++i) features[first * 32 + i] = f[i];
    }
    const auto trained_head = std::span<const float>(weights.parameters).last(head::parameter_count);
    for (std::size_t i = 0; i < head::parameter_count; ++i) tuned.all_parameters()[i] = trained_head[i];
    const katachi::optim::detail::sgd_rule<float> sgd{classifier::fine_tune_lr, 0.0f, 0.0f, 1.0f, false, true};
    for (std::size_t step = 0; step < classifier::fine_tune_steps; ++step) {
        const std::size_t first = step * batch % classifier::fine_tune_images;
        for (std::size_t i = 0; i < batch; ++i) targets[i] = test_images::labels[first + i];
        tuned.forward(katachi::kernels::tensor_view<const float, 2>(features + first * 32, {batch, 32}));
        const float loss = tuned.cross_entropy(katachi::kernels::tensor_view<const std::int64_t, 1>(targets, {batch}));
        tuned.backward();
        sgd.apply(tuned.all_parameters().data(), tuned.all_gradients().data(), nullptr, head::parameter_count);
        device::line() << "loss " << static_cast<unsigned>(step) << ' ' << bits(loss);
    }
    for (std::size_t k = 0; k < head::parameter_count; ++k)
        device::line() << "head " << static_cast<unsigned>(k) << ' ' << bits(tuned.all_parameters()[k]);
    return 0;
}
