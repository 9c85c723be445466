// bench/compare/eager_cases.cpp: the cases in katachi's eager face, with plain modules (a model
// built from lazy modules runs the same steps once materialised; bench/eager compares the two).
#include <cstdint>
#include <katachi/eager.hpp>
#include <katachi/optim/sgd.hpp>
#include <memory>
#include <vector>

#include "cases.hpp"

namespace katachi::bench {

namespace {

namespace eager = katachi::eager;
namespace nn = katachi::eager::nn;
using eager::tensor;

struct model_spec {
    const char* name;
    std::shared_ptr<nn::sequential> (*build)();
    eager::sizes sample;  // the input shape of one sample
    std::size_t classes;
};

std::shared_ptr<nn::sequential> lenet() {
    using namespace nn;
    return std::make_shared<sequential>(
        conv2d({.in_channels = 1, .out_channels = 32, .kernel_size = 3, .padding = 1}), relu(), max_pool2d(),
        conv2d({.in_channels = 32, .out_channels = 64, .kernel_size = 3, .padding = 1}), relu(), max_pool2d(),
        flatten(), linear({3136, 128}), relu(), linear({128, 10}));
}
std::shared_ptr<nn::sequential> mlp() {
    using namespace nn;
    return std::make_shared<sequential>(linear({784, 256}), relu(), linear({256, 128}), relu(),
                                        linear({128, 10}));
}
std::shared_ptr<nn::sequential> tiny_mlp() {
    using namespace nn;
    return std::make_shared<sequential>(linear({4, 16}), relu(), linear({16, 3}));
}

eager::sizes batch_shape(const model_spec& spec, std::size_t n) {
    std::vector<std::size_t> dims{n};
    dims.insert(dims.end(), spec.sample.begin(), spec.sample.end());
    return eager::sizes(dims);
}

bench_case training(const model_spec& spec, std::size_t batch = 64) {
    struct state {
        std::shared_ptr<nn::sequential> model;
        optim::sgd<float> opt;
        tensor x;
        std::vector<std::int64_t> y;
    };
    eager::manual_seed(0);
    auto model = spec.build();
    auto s = std::make_shared<state>(
        state{model, optim::sgd<float>(nn::optimiser_parameters(*model), {.lr = 0.01, .momentum = 0.9}),
              eager::rand(batch_shape(spec, batch)), std::vector<std::int64_t>(batch)});
    for (std::size_t i = 0; i < batch; ++i) s->y[i] = static_cast<std::int64_t>(i % spec.classes);
    return {spec.name, "train", batch, [s] {
                s->opt.zero_grad();
                const tensor loss = eager::cross_entropy((*s->model)(s->x), s->y);
                loss.backward();
                s->opt.step();
            }};
}

bench_case inference(const model_spec& spec, std::size_t batch) {
    struct state {
        std::shared_ptr<nn::sequential> model;
        tensor x;
    };
    eager::manual_seed(0);
    auto s = std::make_shared<state>(state{spec.build(), eager::rand(batch_shape(spec, batch))});
    s->model->eval();
    return {spec.name, "infer", batch, [s] {
                eager::no_grad guard;
                (*s->model)(s->x);
            }};
}

}  // namespace

std::vector<bench_case> eager_cases() {
    std::vector<bench_case> out;
    const model_spec tiny{"tiny_mlp", tiny_mlp, {4}, 3};
    for (const model_spec& spec : {model_spec{"lenet", lenet, {1, 28, 28}, 10}, model_spec{"mlp", mlp, {784}, 10}, tiny}) {
        out.push_back(training(spec));
        out.push_back(inference(spec, 1));
        out.push_back(inference(spec, 256));
    }
    out.push_back(training(tiny, 1));
    return out;
}

}  // namespace katachi::bench
