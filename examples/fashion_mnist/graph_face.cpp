// examples/fashion_mnist/graph_face.cpp: the demo's LeNet as a compile-time graph.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <katachi/data/metrics.hpp>
#include <katachi/graph.hpp>
#include <katachi/graph/state_dict.hpp>
#include <memory>
#include <optional>
#include <string>
#include <xtensor/xadapt.hpp>

#include "face.hpp"
#include "optimiser.hpp"
#include "ranks.hpp"

#if KATACHI_DEMO_MPI
#include <katachi/distributed/graph.hpp>
#endif

namespace fashion_mnist {

namespace {

using namespace katachi::graph;

// The network is a type: every input size is deduced (3136 before the first linear), and a mistake
// in it is a compile error naming the layer and both shapes.
using lenet =
    sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, relu, max_pool2d<2>, conv2d<64, 3, padding<1>>,
               relu, max_pool2d<2>, flatten, linear<128>, relu, linear<10>>;
static_assert(lenet::parameter_count == 421'642);
static_assert(lenet::output_shape::dims[0] == 10);

// A DOT graph's body: the lines between "digraph name {" and the closing "}".
std::string body_of(const std::string& dot) {
    const auto first = dot.find('\n') + 1;
    const auto last = dot.rfind('}');
    return dot.substr(first, last - first);
}

#if KATACHI_DEMO_MPI
// Buckets of at most 1 MiB: the first linear's 1.6 MB of gradients is a bucket of its own, whose
// all-reduce starts before the convolutions' backward, the longest part of the step.
constexpr bucket_options buckets{.bucket_cap_mb = 1, .first_bucket_cap_mb = 1};
using data_parallel = katachi::distributed::data_parallel<model<lenet>, buckets>;
#endif

class graph_face final : public face {
public:
    graph_face(std::uint64_t seed, const ranks& ranks) : model_(seed) {
#if KATACHI_DEMO_MPI
        if (ranks.distributed()) ddp_ = std::make_unique<data_parallel>(model_);  // rank 0's weights
#else
        (void)ranks;
#endif
    }

    std::string name() const override { return "graph"; }

    std::string summary() override {
#if KATACHI_DEMO_MPI
        if (ddp_) return data_parallel::summary();  // with the all-reduce plan
#endif
        return katachi::graph::summary<lenet>();
    }

    // The forward graph and the generated backward schedule, side by side in one picture.
    std::string dot(const batch&) override {
        return "digraph lenet {\n  node [shape=box];\n  subgraph cluster_forward {\n    "
               "label=\"forward\";\n" +
               body_of(forward_dot<lenet>()) +
               "  }\n  subgraph cluster_backward {\n    label=\"generated backward\";\n" +
               body_of(backward_dot<lenet>()) + "  }\n}\n";
    }

    void make_optimiser(const optimiser_options& options) override {
        optimiser_.emplace(model_.parameters(), options);
    }
    void set_learning_rate(double lr) override { optimiser_->set_learning_rate(lr); }

    step_result train_step(const batch& b) override {
        model_.train();
        const auto logits = model_.forward(b.input());  // [n, 1, 28, 28]: no copy when unshuffled
        step_result r;
        const auto predicted = katachi::data::argmax(logits);
        for (std::size_t i = 0; i < b.size(); ++i) r.correct += predicted[i] == b.target_span()[i];
        r.loss = model_.cross_entropy(b.targets());
#if KATACHI_DEMO_MPI
        if (ddp_)
            ddp_->backward();  // and the gradients' mean over the ranks, all-reduced as it goes
        else
#endif
            model_.backward();  // overwrites the gradients: nothing to zero
        optimiser_->step();
        stale_ = true;
        return r;
    }

    // Evaluation runs the deployment runner: the trained weights copied into a fixed arena sized at
    // compile time for batches of up to 256, with no gradient storage.
    void predict(const batch& b, float* logits) override {
        if (stale_) runner_->load(model_);
        stale_ = false;
        const auto out = runner_->forward(b.input());  // refuses more than runner::max_batch images
        for (std::size_t i = 0; i < b.size(); ++i)
            for (std::size_t c = 0; c < 10; ++c) logits[i * 10 + c] = out(i, c);
    }

    katachi::io::tensor_map state_dict() override { return katachi::graph::state_dict(model_); }
    void load_state_dict(const katachi::io::tensor_map& tensors) override {
        katachi::graph::load_state_dict(model_, tensors);
        stale_ = true;
    }

    katachi::io::tensor_map optimiser_state_dict() const override { return optimiser_->state_dict(); }
    void load_optimiser_state_dict(const katachi::io::tensor_map& tensors) override {
        optimiser_->load_state_dict(tensors);
    }

private:
    using runner = inference_model<lenet, float, 256>;

    model<lenet> model_;
    std::unique_ptr<runner> runner_ = std::make_unique<runner>();
    bool stale_ = true;  // the runner's weights are older than the model's
    std::optional<any_optimiser> optimiser_;
#if KATACHI_DEMO_MPI
    std::unique_ptr<data_parallel> ddp_;
#endif
};

}  // namespace

std::unique_ptr<face> make_graph_face(std::uint64_t seed, const ranks& ranks) {
    return std::make_unique<graph_face>(seed, ranks);
}

}  // namespace fashion_mnist
