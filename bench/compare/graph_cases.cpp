// bench/compare/graph_cases.cpp: the cases in katachi's graph face. Training runs a graph::model;
// inference runs the fixed-arena graph::inference_model, the face's deployment runner.
#include <array>
#include <cstdint>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <memory>
#include <xtensor/xtensor.hpp>

#include "cases.hpp"

namespace katachi::bench {

namespace {

using namespace katachi::graph;

using lenet =
    sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, relu, max_pool2d<2>, conv2d<64, 3, padding<1>>,
               relu, max_pool2d<2>, flatten, linear<128>, relu, linear<10>>;
using mlp = sequential<input<784>, linear<256>, relu, linear<128>, relu, linear<10>>;
using tiny_mlp = sequential<input<4>, linear<16>, relu, linear<3>>;

template <class Net>
using batch_tensor = xt::xtensor<float, 1 + Net::input_shape::rank>;

template <class Net>
batch_tensor<Net> random_batch(std::size_t n) {
    std::array<std::size_t, 1 + Net::input_shape::rank> dims{n};
    for (std::size_t i = 0; i < Net::input_shape::rank; ++i) dims[i + 1] = Net::input_shape::dims[i];
    batch_tensor<Net> x(dims);
    generator gen(1);
    for (auto& v : x) v = gen.uniform<float>();
    return x;
}

template <class Net>
bench_case training(const char* name, std::size_t batch = 64) {
    struct state {
        model<Net> m{0};
        optim::sgd<float> opt{m.parameters(), {.lr = 0.01, .momentum = 0.9}};
        batch_tensor<Net> x;
        xt::xtensor<std::int64_t, 1> y;
    };
    auto s = std::make_shared<state>();
    s->x = random_batch<Net>(batch);
    s->y = xt::xtensor<std::int64_t, 1>::from_shape({batch});
    for (std::size_t i = 0; i < batch; ++i) s->y(i) = static_cast<std::int64_t>(i % Net::output_shape::dims[0]);
    return {name, "train", batch, [s] {
                s->m.forward(s->x);
                s->m.cross_entropy(s->y);
                s->m.backward();
                s->opt.step();
            }};
}

template <class Net, std::size_t Batch>
bench_case inference(const char* name) {
    struct state {
        std::unique_ptr<inference_model<Net, float, Batch>> runner =
            std::make_unique<inference_model<Net, float, Batch>>();
        batch_tensor<Net> x = random_batch<Net>(Batch);
        float sink = 0;
    };
    auto s = std::make_shared<state>();
    model<Net> trained(0);
    s->runner->load(trained);
    return {name, "infer", Batch, [s] { s->sink += s->runner->forward(s->x)(0, 0); }};
}

template <class Net>
void add_model(std::vector<bench_case>& out, const char* name) {
    out.push_back(training<Net>(name));
    out.push_back(inference<Net, 1>(name));
    out.push_back(inference<Net, 256>(name));
}

}  // namespace

std::vector<bench_case> graph_cases() {
    std::vector<bench_case> out;
    add_model<lenet>(out, "lenet");
    add_model<mlp>(out, "mlp");
    add_model<tiny_mlp>(out, "tiny_mlp");
    out.push_back(training<tiny_mlp>("tiny_mlp", 1));
    return out;
}

}  // namespace katachi::bench
