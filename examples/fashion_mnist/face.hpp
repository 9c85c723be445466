// examples/fashion_mnist/face.hpp: the demo's LeNet as either face sees it.
//
// The training loop, the progress bar and the reports are written once against this interface;
// graph_face.cpp and eager_face.cpp build the same network, Conv2d(1,32,3,p1) ReLU MaxPool2d(2)
// Conv2d(32,64,3,p1) ReLU MaxPool2d(2) Flatten Linear(3136,128) ReLU Linear(128,10), in their face.
// Both use PyTorch's state-dict keys ("0.weight", "3.bias", "7.weight", "9.bias"), so a checkpoint
// written by one loads into the other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <katachi/data/loader.hpp>
#include <katachi/io/safetensors.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace fashion_mnist {

struct optimiser_options {
    std::string name = "adam";  // sgd, adam or adamw
    double lr = 2e-3;
    double momentum = 0.9;               // sgd only
    std::optional<double> weight_decay;  // unset: the optimiser's default (0, adamw 0.01)
};

// A batch of images [n, 1, 28, 28] and their classes, from katachi::data's loader.
using batch = katachi::data::data_loader<float>::batch;

struct step_result {
    double loss = 0;          // mean cross-entropy of the batch
    std::size_t correct = 0;  // samples whose largest logit is their label
};

class face {
public:
    virtual ~face() = default;

    virtual std::string name() const = 0;  // "graph" or "eager"
    // A table of layers, output shapes and parameter counts, with totals.
    virtual std::string summary() = 0;
    // Graphviz DOT of the model; the eager face records one step on the batch to show its tape.
    virtual std::string dot(const batch& b) = 0;

    // Builds the optimiser over the model's parameters; the learning rate can change between steps.
    virtual void make_optimiser(const optimiser_options& options) = 0;
    virtual void set_learning_rate(double lr) = 0;

    // One step of sgd/adam on a batch. Train mode.
    virtual step_result train_step(const batch& b) = 0;
    // The logits [n, 10] of a batch of at most 256 images, in evaluation mode, without recording
    // gradients.
    virtual void predict(const batch& b, float* logits) = 0;

    // PyTorch-keyed parameters; load_state_dict checks every key and shape first (strict).
    virtual katachi::io::tensor_map state_dict() = 0;
    virtual void load_state_dict(const katachi::io::tensor_map& tensors) = 0;

    // The optimiser's state dict (after make_optimiser), to resume a run; loading it into the
    // optimiser that make_optimiser built with the same options makes the next step the saved run's.
    virtual katachi::io::tensor_map optimiser_state_dict() const = 0;
    virtual void load_optimiser_state_dict(const katachi::io::tensor_map& tensors) = 0;

    // The source of a header with the model's graph-face type (eager face: nn::graph_source).
    virtual std::string graph_source(const std::string& name) {
        throw std::logic_error("the " + this->name() + " face cannot write a graph source (" + name + ")");
    }
};

class ranks;

// With ranks.distributed(), train_step averages the gradients over the ranks before the step
// (graph face: distributed::data_parallel's compile-time bucket plan; eager face:
// distributed::distributed_data_parallel's buckets), and every rank starts from rank 0's weights.
std::unique_ptr<face> make_graph_face(std::uint64_t seed, const ranks& ranks);
std::unique_ptr<face> make_eager_face(std::uint64_t seed, const ranks& ranks);

}  // namespace fashion_mnist
