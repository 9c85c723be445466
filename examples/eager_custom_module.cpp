// The eager face: a user-defined module with its own parameter and reset_parameters(), inside a
// model with lazy layers, trained for a few steps with SGD and saved as a PyTorch-keyed checkpoint.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <katachi/eager.hpp>
#include <katachi/optim/sgd.hpp>

namespace eager = katachi::eager;
namespace nn = katachi::eager::nn;
using eager::tensor;

// y = x * gain + shift, per feature: two learnt vectors.
struct affine : nn::module {
    nn::parameter gain, shift;
    explicit affine(std::size_t features) {
        gain = nn::parameter(register_parameter("gain", tensor::empty({features})));
        shift = nn::parameter(register_parameter("shift", tensor::empty({features})));
        reset_parameters();
    }
    void reset_parameters() {
        nn::init::ones_(gain);
        nn::init::zeros_(shift);
    }
    std::string type_name() const override { return "affine"; }
    std::string extra_repr() const override { return std::to_string(gain.numel()); }
    // The shape arithmetic that lets materialize(input_shape) pass through this module.
    eager::sizes output_shape(const eager::sizes& input) const override { return input; }
    // [N, features] * [features] + [features]: the vectors broadcast over the batch, as in PyTorch,
    // and their gradients are summed over it.
    tensor forward(const tensor& x) override { return x * gain + shift; }
};

int main() {
    eager::manual_seed(0);
    nn::sequential model(nn::lazy_linear({.out_features = 16}), nn::relu(), std::make_shared<affine>(16),
                         nn::lazy_linear({.out_features = 3}));
    std::cout << "before the first forward: " << nn::parameter_count_text(model) << " parameters\n";

    const tensor x = eager::randn({32, 5});
    std::vector<std::int64_t> y(32);
    const std::vector<float> xs = x.to_vector();
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = xs[i * 5] > 0.5f ? 2 : xs[i * 5 + 1] > 0 ? 1 : 0;

    model.materialize({32, 5});  // or let the first forward do it
    katachi::optim::sgd<float> opt(nn::optimiser_parameters(model), {.lr = 0.1, .momentum = 0.9});
    eager::loss_meter meter;
    for (int step = 0; step < 200; ++step) {
        opt.zero_grad();
        const tensor loss = eager::cross_entropy(model(x), y);
        loss.backward();
        opt.step();
        meter.add(loss.item());
    }
    const tensor loss = eager::cross_entropy(model(x), y);
    std::cout << model << '\n'
              << nn::parameter_count_text(model) << " parameters; mean loss " << meter.mean()
              << ", final loss " << loss.item() << '\n';
    const auto path = std::filesystem::temp_directory_path() / "eager_custom_module.safetensors";
    nn::save(model, path);
    std::cout << "saved " << model.state_dict().size() << " tensors\n";
    std::filesystem::remove(path);
    return loss.item() < 0.5f ? 0 : 1;
}
