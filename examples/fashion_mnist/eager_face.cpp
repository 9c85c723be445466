// examples/fashion_mnist/eager_face.cpp: the demo's LeNet built from lazy modules, define-by-run.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <katachi/data/eager.hpp>
#include <katachi/eager.hpp>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "face.hpp"
#include "optimiser.hpp"
#include "ranks.hpp"
#include "table.hpp"

#if KATACHI_DEMO_MPI
#include <katachi/distributed/eager.hpp>
#endif

namespace fashion_mnist {

namespace {

namespace eager = katachi::eager;
namespace nn = katachi::eager::nn;
using eager::tensor;

// No input size is written anywhere: the lazy layers take theirs from the first input's shape.
std::shared_ptr<nn::sequential> lenet() {
    using namespace nn;
    return std::make_shared<sequential>(
        lazy_conv2d({.out_channels = 32, .kernel_size = 3, .padding = 1}), relu(), max_pool2d(),
        lazy_conv2d({.out_channels = 64, .kernel_size = 3, .padding = 1}), relu(), max_pool2d(), flatten(),
        lazy_linear({.out_features = 128}), relu(), lazy_linear({.out_features = 10}));
}


class eager_face final : public face {
public:
    eager_face(std::uint64_t seed, const ranks& ranks) {
        eager::manual_seed(seed);
        model_ = lenet();
#if KATACHI_DEMO_MPI
        if (ranks.distributed()) {  // the wrapper broadcasts rank 0's weights: they must exist first
            model_->materialize(eager::sizes{1, 1, 28, 28});
            ddp_ = std::make_unique<katachi::distributed::distributed_data_parallel>(model_);
        }
#else
        (void)ranks;
#endif
    }

    std::string name() const override { return "eager"; }

    // Each layer's output shape by the modules' own shape arithmetic; a model that has not seen
    // data yet is first materialised from the input shape alone (no kernel runs).
    std::string summary() override {
        eager::sizes shape{1, 1, 28, 28};
        if (model_->has_uninitialized_params()) model_->materialize(shape);
        std::vector<std::vector<std::string>> rows{{"layer", "module", "output", "parameters"},
                                                   {"input", "", shape.str(), "0"}};
        for (std::size_t i = 0; i < model_->size(); ++i) {
            const nn::module& layer = *(*model_)[i];
            shape = layer.output_shape(shape);
            const std::string extra = layer.extra_repr();
            rows.push_back({std::to_string(i), layer.type_name() + "(" + extra + ")", shape.str(),
                            nn::parameter_count_text(layer)});
        }
        return format_table(rows, {false, false, false, true}) + "total parameters " +
               nn::parameter_count_text(*model_) + " (shapes per batch of 1)\n";
    }

    std::string dot(const batch& b) override {
        model_->train();
        const tensor loss = eager::cross_entropy((*model_)(katachi::data::input_tensor(b)), b.target_span());
        return eager::to_dot(loss, *model_);  // ops and parameters named by their paths in the model
    }

    void make_optimiser(const optimiser_options& options) override {
        optimiser_.emplace(nn::optimiser_parameters(*model_), options);
    }
    void set_learning_rate(double lr) override { optimiser_->set_learning_rate(lr); }

    step_result train_step(const batch& b) override {
        model_->train();
        optimiser_->zero_grad();
        const tensor images = katachi::data::input_tensor(b);  // one copy, straight from the set
        const tensor logits = forward(images);
        const tensor loss = eager::cross_entropy(logits, b.target_span());
        loss.backward();  // distributed: returns with the gradients' mean over the ranks
        optimiser_->step();
        step_result r;
        r.loss = loss.item();
        const auto predicted = katachi::data::argmax(logits);
        for (std::size_t i = 0; i < b.size(); ++i) r.correct += predicted[i] == b.target_span()[i];
        return r;
    }

    void predict(const batch& b, float* logits) override {
        eager::no_grad guard;
        model_->eval();
        const tensor out = (*model_)(katachi::data::input_tensor(b)).contiguous();
        std::copy_n(out.data(), b.size() * 10, logits);
    }

    katachi::io::tensor_map state_dict() override { return model_->state_dict(); }
    void load_state_dict(const katachi::io::tensor_map& tensors) override {
        model_->load_state_dict(tensors);
    }

    katachi::io::tensor_map optimiser_state_dict() const override { return optimiser_->state_dict(); }
    void load_optimiser_state_dict(const katachi::io::tensor_map& tensors) override {
        optimiser_->load_state_dict(tensors);
    }

    std::string graph_source(const std::string& name) override {
        return nn::graph_source(*model_, {1, 28, 28}, {.name = name});
    }

private:
    tensor forward(const tensor& images) {
#if KATACHI_DEMO_MPI
        if (ddp_) return (*ddp_)(images);  // buckets all-reduced as the backward finishes them
#endif
        return (*model_)(images);
    }

    std::shared_ptr<nn::sequential> model_;
    std::optional<any_optimiser> optimiser_;
#if KATACHI_DEMO_MPI
    std::unique_ptr<katachi::distributed::distributed_data_parallel> ddp_;
#endif
};

}  // namespace

std::unique_ptr<face> make_eager_face(std::uint64_t seed, const ranks& ranks) {
    return std::make_unique<eager_face>(seed, ranks);
}

}  // namespace fashion_mnist
