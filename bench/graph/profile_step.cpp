// Where a graph-face training step spends its time: the LeNet (or the benchmark's MLP) at batch 64,
// each node's forward and backward, the loss and the optimiser step (sgd with momentum, as
// bench/compare trains), as medians over the steps and shares of the step.
//
//   profile_step [--model lenet|mlp] [--threads N] [--steps S] [--batch B] [--json FILE]
//
// The nodes are timed by model::forward_with and backward_with (a clock read after each node), so
// the figures are the step's own, with no profiler attached; a node's time includes the waits of
// its parallel parts. Random images and labels; denormals flushed (katachi::set_flush_denormal), as
// the demo trains.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <katachi/parallel.hpp>
#include <katachi/random.hpp>
#include <string>
#include <vector>

namespace {

using namespace katachi;
using namespace katachi::graph;

using lenet =
    sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, relu, max_pool2d<2>, conv2d<64, 3, padding<1>>,
               relu, max_pool2d<2>, flatten, linear<128>, relu, linear<10>>;
using mlp = sequential<input<784>, linear<256>, relu, linear<128>, relu, linear<10>>;
using clock_type = std::chrono::steady_clock;

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

// Runs and prints the profile of Net's training step.
template <class Net>
int profile(const char* title, int threads, std::size_t steps, std::size_t batch, const char* json) {
    set_num_threads(threads);
    set_flush_denormal(true);

    constexpr std::size_t nodes = Net::node_count;
    model<Net> m(1);
    std::vector<float> x(batch * Net::input_shape::size);
    std::vector<std::int64_t> y(batch);
    generator gen(3);
    for (float& v : x) v = gen.uniform<float>(-1.0f, 1.0f);
    for (auto& t : y) t = static_cast<std::int64_t>(gen() % 10);
    std::array<std::size_t, 1 + Net::input_shape::rank> shape{batch};
    for (std::size_t i = 0; i < Net::input_shape::rank; ++i) shape[i + 1] = Net::input_shape::dims[i];
    const auto images = xt::adapt(x.data(), x.size(), xt::no_ownership(), shape);
    const auto targets = xt::adapt(y.data(), y.size(), xt::no_ownership(), std::array<std::size_t, 1>{batch});
    optim::sgd<float> opt(m.parameters(), {.lr = 0.01, .momentum = 0.9});

    std::array<std::vector<double>, nodes> fwd, bwd;
    std::vector<double> loss_times, step_times, totals;
    for (std::size_t s = 0; s < steps + 10; ++s) {
        const bool keep = s >= 10;  // the first ten warm up
        const auto t0 = clock_type::now();
        auto last = t0;
        const auto lap = [&](std::vector<double>& into) {
            const auto now = clock_type::now();
            if (keep) into.push_back(std::chrono::duration<double>(now - last).count());
            last = now;
        };
        m.forward_with(images, [&]<std::size_t I>() { lap(fwd[I]); });
        m.cross_entropy(targets);
        lap(loss_times);
        m.backward_with([&]<std::size_t I>() { lap(bwd[I]); });
        opt.step();
        lap(step_times);
        if (keep) totals.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    }

    const double total = median(totals);
    std::FILE* out = json ? std::fopen(json, "w") : nullptr;
    std::printf("%s training step, batch %zu, %d thread(s): median %.3f ms over %zu steps\n\n", title, batch,
                threads, total * 1e3, steps);
    std::vector<std::string> names, layers;
    graph::detail::for_each_node<nodes>([&]<std::size_t I>() {
        names.emplace_back(Net::template node_at<I>::name.view());
        layers.push_back(Net::template node_at<I>::layer::name());
    });
    int width = 36;  // the layer column: as wide as the longest name
    for (const std::string& l : layers) width = std::max(width, static_cast<int>(l.size()));
    std::printf("%-6s %-*s %12s %8s %12s %8s\n", "node", width, "layer", "forward ms", "share", "backward ms",
                "share");
    double sum = 0;
    for (std::size_t i = 0; i < nodes; ++i) {
        const double f = median(fwd[i]), b = median(bwd[i]);
        sum += f + b;
        std::printf("%-6s %-*s %12.3f %7.1f%% %12.3f %7.1f%%\n", names[i].c_str(), width, layers[i].c_str(),
                    f * 1e3, 100 * f / total, b * 1e3, 100 * b / total);
        if (out)
            std::fprintf(
                out,
                "{\"kind\": \"node\", \"node\": \"%s\", \"layer\": \"%s\", \"forward_seconds\": %.9g, "
                "\"backward_seconds\": %.9g}\n",
                names[i].c_str(), layers[i].c_str(), f, b);
    }
    const double l = median(loss_times), o = median(step_times);
    std::printf("%-6s %-*s %12.3f %7.1f%%\n", "", width, "cross_entropy (forward and backward)", l * 1e3,
                100 * l / total);
    std::printf("%-6s %-*s %12.3f %7.1f%%\n", "", width, "sgd step", o * 1e3, 100 * o / total);
    std::printf("(the medians of the parts add up to %.3f ms)\n", (sum + l + o) * 1e3);
    if (out) {
        std::fprintf(out,
                     "{\"kind\": \"step\", \"batch\": %zu, \"threads\": %d, \"step_seconds\": %.9g, "
                     "\"loss_seconds\": %.9g, \"optimiser_seconds\": %.9g}\n",
                     batch, threads, total, l, o);
        std::fclose(out);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 2;
    std::size_t steps = 200, batch = 64;
    const char* json = nullptr;
    std::string which = "lenet";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--model"))
            which = argv[i + 1];
        else if (!std::strcmp(argv[i], "--threads"))
            threads = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--steps"))
            steps = std::strtoul(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--batch"))
            batch = std::strtoul(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--json"))
            json = argv[i + 1];
        else {
            std::fprintf(stderr, "profile_step: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (which == "lenet") return profile<lenet>("LeNet", threads, steps, batch, json);
    if (which == "mlp") return profile<mlp>("MLP", threads, steps, batch, json);
    std::fprintf(stderr, "profile_step: --model is lenet or mlp, not %s\n", which.c_str());
    return 2;
}
