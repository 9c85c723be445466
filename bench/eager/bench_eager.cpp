// The eager face's speed: LeNet training step at batch 64 built from plain and from lazy modules,
// the first (materialising) forward, batch-1 inference, and the per-operation overhead. With
// libtorch available the same work runs in libtorch's C++ frontend in the same process (its best
// configuration: OpenBLAS on one thread, two torch threads) and the ratios are printed.
#include <cstdio>
#include <katachi/eager.hpp>
#include <katachi/optim/sgd.hpp>
#include <katachi/parallel.hpp>

#include "timing.hpp"
#ifdef KATACHI_WITH_LIBTORCH
#include "libtorch_cases.hpp"
#endif

extern "C" void openblas_set_num_threads(int);

namespace eager = katachi::eager;
namespace nn = katachi::eager::nn;
using eager::tensor;
using katachi::bench::measure;
using katachi::bench::report;
using katachi::bench::stats;

namespace {

std::shared_ptr<nn::sequential> lenet(bool lazy) {
    using namespace nn;
    if (lazy)
        return std::make_shared<sequential>(
            lazy_conv2d({.out_channels = 32, .kernel_size = 3, .padding = 1}), relu(), max_pool2d(),
            lazy_conv2d({.out_channels = 64, .kernel_size = 3, .padding = 1}), relu(), max_pool2d(),
            flatten(), lazy_linear({.out_features = 128}), relu(), lazy_linear({.out_features = 10}));
    return std::make_shared<sequential>(
        conv2d({.in_channels = 1, .out_channels = 32, .kernel_size = 3, .padding = 1}), relu(), max_pool2d(),
        conv2d({.in_channels = 32, .out_channels = 64, .kernel_size = 3, .padding = 1}), relu(), max_pool2d(),
        flatten(), linear({3136, 128}), relu(), linear({128, 10}));
}

stats training_step(bool lazy) {
    auto model = lenet(lazy);
    const tensor x = eager::rand({64, 1, 28, 28});
    std::vector<std::int64_t> y(64);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<std::int64_t>(i % 10);
    if (lazy) model->materialize({64, 1, 28, 28});
    katachi::optim::sgd<float> opt(nn::optimiser_parameters(*model), {.lr = 0.01, .momentum = 0.9});
    return measure([&] {
        opt.zero_grad();
        const tensor loss = eager::cross_entropy((*model)(x), y);
        loss.backward();
        opt.step();
    });
}

// Construction and the first forward with backward: where a lazy model infers, allocates and
// initialises its parameters.
stats first_step(bool lazy) {
    const tensor x = eager::rand({64, 1, 28, 28});
    const std::vector<std::int64_t> y(64, 3);
    return measure(
        [&] {
            auto model = lenet(lazy);
            eager::cross_entropy((*model)(x), y).backward();
        },
        21, 2);
}

stats construction(bool lazy) {
    return measure([&] { lenet(lazy); });
}

stats materialize_by_shape() {
    return measure([] { lenet(true)->materialize({64, 1, 28, 28}); });
}

stats inference_batch1() {
    auto model = lenet(false);
    model->eval();
    const tensor x = eager::rand({1, 1, 28, 28});
    return measure(
        [&] {
            eager::no_grad guard;
            (*model)(x);
        },
        201, 20);
}

// One recorded elementwise op on a 4-element tensor, forward and backward: the fixed cost of the
// tape per operation.
stats per_op() {
    tensor a = eager::ones({4}).requires_grad_();
    const int ops = 100;
    const stats s = measure([&] {
        tensor y = a;
        for (int i = 0; i < ops; ++i) y = y * 1.0001f;
        eager::sum(y).backward();
    });
    return {s.median_us / ops, s.min_us / ops, s.max_us / ops};
}

}  // namespace

int main() {
    katachi::set_num_threads(2);
    std::printf("katachi eager face (2 katachi threads, OpenBLAS on 1 inside them)\n");
    const stats plain = training_step(false), lazy = training_step(true);
    report("LeNet training step, batch 64, plain modules", plain);
    report("LeNet training step, batch 64, lazy modules", lazy);
    std::printf("%-52s %10.2f\n", "  lazy / plain", lazy.median_us / plain.median_us);
    report("construction, plain (allocates and initialises)", construction(false));
    report("construction, lazy", construction(true));
    report("construction + materialize(shape), lazy", materialize_by_shape());
    const stats first_plain = first_step(false), first_lazy = first_step(true);
    report("construction + first step, plain", first_plain);
    report("construction + first (materialising) step, lazy", first_lazy);
    std::printf("%-52s %10.1f us\n", "  cost of materialising", first_lazy.median_us - first_plain.median_us);
    const stats infer = inference_batch1();
    report("LeNet inference, batch 1 (no_grad)", infer);
    const stats op = per_op();
    report("one recorded op, forward + backward", op);
#ifdef KATACHI_WITH_LIBTORCH
    openblas_set_num_threads(1);
    std::printf("\nlibtorch C++ frontend (OpenBLAS 1 thread, 2 torch threads)\n");
    const auto t = katachi::bench::libtorch_cases();
    report("LeNet training step, batch 64", t.training_step);
    report("LeNet inference, batch 1 (NoGradGuard)", t.inference_batch1);
    report("one recorded op, forward + backward", t.per_op);
    std::printf("\nkatachi eager / libtorch (goal <= 1.2)\n");
    std::printf("%-52s %10.2f\n", "  training step, plain", plain.median_us / t.training_step.median_us);
    std::printf("%-52s %10.2f\n", "  training step, lazy", lazy.median_us / t.training_step.median_us);
    std::printf("%-52s %10.2f\n", "  inference, batch 1", infer.median_us / t.inference_batch1.median_us);
    std::printf("%-52s %10.2f\n", "  per op", op.median_us / t.per_op.median_us);
#endif
    return 0;
}
