// test/no_exceptions/failures.cpp: the same failures, built twice: with exceptions (each caught, its
// what() printed) and with -fno-exceptions -fno-rtti (each goes to the installed error handler,
// which prints the sentence it was given and leaves by longjmp). compare.py runs both builds and
// requires the same lines: a build without exceptions reports every failure, in the same words.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <katachi/graph.hpp>
#include <katachi/kernels/relu.hpp>
#include <katachi/optim/lr_scheduler.hpp>
#include <katachi/optim/sgd.hpp>
#include <katachi/parallel.hpp>
#include <katachi/random.hpp>
#include <xtensor/xtensor.hpp>
#if defined(__cpp_exceptions)
#include <exception>
#endif

namespace {

using namespace katachi;
using net = graph::sequential<graph::input<1, 6, 6>, graph::conv2d<2, 3>, graph::relu, graph::flatten, graph::linear<3>>;

#if !defined(__cpp_exceptions)
std::jmp_buf back;
char message[1024];
[[noreturn]] void on_error(const char* text) noexcept {
    std::snprintf(message, sizeof message, "%s", text);
    std::longjmp(back, 1);
}
#endif

// Runs f, which must fail, and prints its failure's sentence (or that it did not fail).
template <class F>
void report(const char* what, F f) {
#if defined(__cpp_exceptions)
    try {
        f();
        std::printf("%s: no failure\n", what);
    } catch (const std::exception& e) {
        std::printf("%s: %s\n", what, e.what());
    }
#else
    // Objects f made are not destroyed when the handler jumps back: acceptable in this test.
    if (setjmp(back) == 0) {
        f();
        std::printf("%s: no failure\n", what);
    } else {
        std::printf("%s: %s\n", what, message);
    }
#endif
}

}  // namespace

int main() {
#if !defined(__cpp_exceptions)
    set_error_handler(on_error);
    static_assert(!exceptions_enabled);
#endif
    static graph::model<net> m(1);
    static xt::xtensor<float, 4> wrong(std::array<std::size_t, 4>{2, 1, 5, 6});
    report("model forward", [] { m.forward(wrong); });
    static graph::inference_model<net, float, 2> inference;
    report("inference forward", [] { inference.forward(wrong); });
    static xt::xtensor<float, 4> too_many(std::array<std::size_t, 4>{3, 1, 6, 6});
    report("inference batch", [] { inference.forward(too_many); });
    static graph::flash_model<net, float, 2> flash(std::span<const float, net::parameter_count>(m.all_parameters()),
                                                    std::span<const float, 0>());
    report("flash batch", [] { flash.forward(too_many.data(), 3); });
    report("kernel shapes", [] {
        xt::xtensor<float, 2> x(std::array<std::size_t, 2>{2, 3}), y(std::array<std::size_t, 2>{3, 2});
        kernels::relu_forward(x, y);
    });
    report("threads", [] { set_num_threads(0); });
    report("generator state", [] {
        generator g(1);
        g.set_state({0, 0, 0, 0, 0, 0});
    });
    report("unknown tensor", [] { m.parameter("9.weight"); });
    report("optimiser", [] { optim::sgd<float> opt(m.parameters(), {.lr = -1.0}); });
    static optim::sgd<float> opt(m.parameters(), {.lr = 0.1, .momentum = 0.9});
    report("scheduler options", [] { optim::step_lr sched(opt, {.step_size = 0}); });
    report("scheduler step", [] {
        static optim::one_cycle_lr sched(opt, {.max_lr = 0.1, .total_steps = 2});
        for (int i = 0; i < 3; ++i) sched.step();
    });
    report("scheduler state", [] {
        static optim::exponential_lr sched(opt, {.gamma = 0.9});
        sched.load_state_dict({});
    });
    return 0;
}
