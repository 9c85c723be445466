// The same LeNet work in libtorch 1.13's C++ frontend.
#include "libtorch_cases.hpp"

#include <torch/torch.h>

namespace katachi::bench {

namespace {
torch::nn::Sequential lenet() {
    namespace tn = torch::nn;
    return tn::Sequential(tn::Conv2d(tn::Conv2dOptions(1, 32, 3).padding(1)), tn::ReLU(), tn::MaxPool2d(2),
                          tn::Conv2d(tn::Conv2dOptions(32, 64, 3).padding(1)), tn::ReLU(), tn::MaxPool2d(2),
                          tn::Flatten(), tn::Linear(3136, 128), tn::ReLU(), tn::Linear(128, 10));
}
}  // namespace

libtorch_results libtorch_cases() {
    torch::set_num_threads(2);
    libtorch_results r;
    {
        auto model = lenet();
        torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
        const auto x = torch::rand({64, 1, 28, 28});
        const auto y = torch::arange(64) % 10;
        r.training_step = measure([&] {
            opt.zero_grad();
            auto loss = torch::nn::functional::cross_entropy(model->forward(x), y);
            loss.backward();
            opt.step();
        });
    }
    {
        auto model = lenet();
        model->eval();
        const auto x = torch::rand({1, 1, 28, 28});
        r.inference_batch1 = measure(
            [&] {
                torch::NoGradGuard guard;
                model->forward(x);
            },
            201, 20);
    }
    {
        auto a = torch::ones({4}, torch::requires_grad());
        const int ops = 100;
        const stats s = measure([&] {
            auto y = a;
            for (int i = 0; i < ops; ++i) y = y * 1.0001f;
            y.sum().backward();
        });
        r.per_op = {s.median_us / ops, s.min_us / ops, s.max_us / ops};
    }
    return r;
}

}  // namespace katachi::bench
