// Graph-face benchmarks: training steps and inference of the LeNet, the MLP 784-256-128-10 and a
// tiny MLP 4-16-3, float32, medians of 21 samples after warm-up, and what deterministic mode costs a
// training step (katachi::set_deterministic). Run: meson test --benchmark.
// Compare with libtorch run in the same session (PERFORMANCE.md), as ratios.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <katachi/parallel.hpp>
#include <memory>
#include <vector>
#include <xtensor/xtensor.hpp>

namespace {

using namespace katachi;
using namespace katachi::graph;

using lenet =
    sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, relu, max_pool2d<2>, conv2d<64, 3, padding<1>>,
               relu, max_pool2d<2>, flatten, linear<128>, relu, linear<10>>;
using mlp = sequential<input<784>, linear<256>, relu, linear<128>, relu, linear<10>>;
using tiny_mlp = sequential<input<4>, linear<16>, relu, linear<3>>;

// Median seconds per call of f over 21 samples, each of `reps` calls.
template <class F>
double median_seconds(F&& f, int reps) {
    for (int i = 0; i < reps * 3; ++i) f();
    std::vector<double> samples;
    for (int s = 0; s < 21; ++s) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < reps; ++i) f();
        samples.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                          reps);
    }
    std::nth_element(samples.begin(), samples.begin() + 10, samples.end());
    return samples[10];
}

template <class Net>
xt::xtensor<float, 1 + Net::input_shape::rank> batch_of(std::size_t n) {
    std::array<std::size_t, 1 + Net::input_shape::rank> dims{n};
    for (std::size_t i = 0; i < Net::input_shape::rank; ++i) dims[i + 1] = Net::input_shape::dims[i];
    xt::xtensor<float, 1 + Net::input_shape::rank> x(dims);
    generator gen(1);
    for (auto& v : x) v = gen.uniform<float>();
    return x;
}

// Median seconds of a training step (forward, cross-entropy, backward, sgd with momentum) of a
// freshly initialised model at this batch size.
template <class Net>
double training_step_seconds(std::size_t batch, int reps) {
    model<Net> m(0);
    optim::sgd<float> opt(m.parameters(), {.lr = 0.01, .momentum = 0.9});
    const auto x = batch_of<Net>(batch);
    xt::xtensor<std::int64_t, 1> y(std::array<std::size_t, 1>{batch});
    for (std::size_t i = 0; i < batch; ++i) y(i) = static_cast<std::int64_t>(i % Net::output_shape::dims[0]);
    return median_seconds(
        [&] {
            m.forward(x);
            m.cross_entropy(y);
            m.backward();
            opt.step();
        },
        reps);
}

template <class Net>
void training_step(const char* name, std::size_t batch, int reps) {
    const double s = training_step_seconds<Net>(batch, reps);
    std::printf("%-10s training step, batch %3zu: %10.2f us\n", name, batch, s * 1e6);
}

// The cost of katachi::set_deterministic(true) on a training step at 1 and at all threads: medians
// of the step with the mode off and on, each from a freshly initialised model (a model stepped for
// a long time on one batch drifts towards values whose arithmetic is slower), and their ratio.
template <class Net>
void deterministic_cost(const char* name, std::size_t batch, int reps) {
    const int threads = get_num_threads();
    const auto step_seconds = [&](bool deterministic) {
        set_deterministic(deterministic);
        const double s = training_step_seconds<Net>(batch, reps);
        set_deterministic(false);
        return s;
    };
    for (int t : {1, threads}) {
        set_num_threads(t);
        const double off = step_seconds(false), on = step_seconds(true);
        std::printf("%-10s training step, batch %3zu, %d thread%s: deterministic %10.2f us, default %10.2f us (x%.3f)\n",
                    name, batch, t, t == 1 ? " " : "s", on * 1e6, off * 1e6, on / off);
        if (t == threads) break;
    }
    set_num_threads(threads);
}

template <class Net, std::size_t Batch>
void inference(const char* name, int reps) {
    model<Net> trained(0);
    auto runner = std::make_unique<inference_model<Net, float, Batch>>();
    runner->load(trained);
    const auto x = batch_of<Net>(Batch);
    float sink = 0;
    const double s = median_seconds([&] { sink += runner->forward(x)(0, 0); }, reps);
    std::printf("%-10s inference,     batch %3zu: %10.3f us  (%.0f samples/s, arena %zu bytes)%s\n", name,
                Batch, s * 1e6, static_cast<double>(Batch) / s, Net::inference_arena_bytes(Batch),
                sink == 12345 ? "!" : "");
}

}  // namespace

int main() {
    std::printf("katachi threads: %d (KATACHI_NUM_THREADS or the hardware's count)\n", get_num_threads());
    training_step<lenet>("lenet", 64, 5);
    inference<lenet, 1>("lenet", 50);
    inference<lenet, 256>("lenet", 2);
    training_step<mlp>("mlp", 64, 50);
    inference<mlp, 1>("mlp", 1000);
    inference<mlp, 256>("mlp", 20);
    training_step<tiny_mlp>("tiny_mlp", 1, 20000);
    inference<tiny_mlp, 1>("tiny_mlp", 200000);
    inference<tiny_mlp, 256>("tiny_mlp", 2000);
    deterministic_cost<lenet>("lenet", 64, 5);
    deterministic_cost<mlp>("mlp", 64, 50);
}
