// bench/compare/libtorch_cases.cpp: the cases in libtorch 1.13's C++ frontend (Debian's
// libtorch-dev), compiled as C++17, the mode its headers accept with both g++ 12 and clang 14.
#include <torch/torch.h>

#include <memory>

#include "cases.hpp"

namespace katachi::bench {

namespace {

namespace tn = torch::nn;

tn::Sequential lenet() {
    return tn::Sequential(tn::Conv2d(tn::Conv2dOptions(1, 32, 3).padding(1)), tn::ReLU(), tn::MaxPool2d(2),
                          tn::Conv2d(tn::Conv2dOptions(32, 64, 3).padding(1)), tn::ReLU(), tn::MaxPool2d(2),
                          tn::Flatten(), tn::Linear(3136, 128), tn::ReLU(), tn::Linear(128, 10));
}
tn::Sequential mlp() {
    return tn::Sequential(tn::Linear(784, 256), tn::ReLU(), tn::Linear(256, 128), tn::ReLU(),
                          tn::Linear(128, 10));
}
tn::Sequential tiny_mlp() {
    return tn::Sequential(tn::Linear(4, 16), tn::ReLU(), tn::Linear(16, 3));
}

struct model_spec {
    const char* name;
    tn::Sequential (*build)();
    std::vector<std::int64_t> sample;
    std::int64_t classes;
};

std::vector<std::int64_t> batch_shape(const model_spec& spec, std::int64_t n) {
    std::vector<std::int64_t> dims{n};
    dims.insert(dims.end(), spec.sample.begin(), spec.sample.end());
    return dims;
}

bench_case training(const model_spec& spec, std::int64_t batch = 64) {
    struct state {
        tn::Sequential model;
        torch::optim::SGD opt;
        torch::Tensor x, y;
    };
    torch::manual_seed(0);
    auto model = spec.build();
    auto s = std::make_shared<state>(
        state{model, torch::optim::SGD(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9)),
              torch::rand(batch_shape(spec, batch)), torch::arange(batch) % spec.classes});
    return {spec.name, "train", static_cast<std::size_t>(batch), [s] {
                s->opt.zero_grad();
                auto loss = torch::nn::functional::cross_entropy(s->model->forward(s->x), s->y);
                loss.backward();
                s->opt.step();
            }};
}

bench_case inference(const model_spec& spec, std::int64_t batch) {
    struct state {
        tn::Sequential model;
        torch::Tensor x;
    };
    torch::manual_seed(0);
    auto s = std::make_shared<state>(state{spec.build(), torch::rand(batch_shape(spec, batch))});
    s->model->eval();
    return {spec.name, "infer", static_cast<std::size_t>(batch), [s] {
                torch::NoGradGuard guard;
                s->model->forward(s->x);
            }};
}

}  // namespace

void libtorch_set_threads(int torch_threads) {
    torch::set_num_threads(torch_threads);
}

bool libtorch_set_flush_denormal(bool on) {
    return at::globalContext().setFlushDenormal(on);
}

std::vector<bench_case> libtorch_cases() {
    std::vector<bench_case> out;
    const model_spec tiny{"tiny_mlp", tiny_mlp, {4}, 3};
    for (const model_spec& spec :
         {model_spec{"lenet", lenet, {1, 28, 28}, 10}, model_spec{"mlp", mlp, {784}, 10}, tiny}) {
        out.push_back(training(spec));
        out.push_back(inference(spec, 1));
        out.push_back(inference(spec, 256));
    }
    out.push_back(training(tiny, 1));
    return out;
}

}  // namespace katachi::bench
