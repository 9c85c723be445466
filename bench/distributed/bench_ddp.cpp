// Data-parallel training's cost on this machine, for docs/distributed.md (tools/distributed.sh).
//
//   mpirun -np P bench_ddp [--threads N] [--steps S] [--json FILE]
//
// For the demo's LeNet and the same network ten times wider (conv 320 and 640 channels, linear
// 1280), graph face, float32, a global batch of 64 split among the P ranks as the demo splits it:
// - the time of a training step (forward, loss, backward with distributed::data_parallel's
//   all-reduce, SGD step) with the all-reduces overlapped with the backward and after it; the
//   figure is the slowest rank's median over S steps, and the images per second follow from it;
// - the share of the step each rank spends blocked waiting for the all-reduces (comm_stats);
// - alone on rank 0 (P = 1 only): the forward and the backward of a batch of 64, separately, for
//   the scaling model;
// - MPI_Allreduce of 1 to 4M floats: medians, giving the transport's latency and bandwidth.
// Rank 0 prints a table and, with --json, writes one JSON object per line.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <katachi/distributed.hpp>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <katachi/parallel.hpp>
#include <katachi/random.hpp>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace katachi;
using namespace katachi::graph;

using lenet = sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, relu, max_pool2d<2>, conv2d<64, 3, padding<1>>,
                         relu, max_pool2d<2>, flatten, linear<128>, relu, linear<10>>;
using wide_lenet = sequential<input<1, 28, 28>, conv2d<320, 3, padding<1>>, relu, max_pool2d<2>,
                              conv2d<640, 3, padding<1>>, relu, max_pool2d<2>, flatten, linear<1280>, relu, linear<10>>;
constexpr bucket_options buckets{.bucket_cap_mb = 1, .first_bucket_cap_mb = 1};  // the demo's

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

struct setup {
    std::size_t rank = 0, size = 1, steps = 20;
    int threads = 1;
    std::FILE* json = nullptr;
};

void emit(const setup& s, const std::string& line) {
    if (s.rank == 0 && s.json) std::fprintf(s.json, "%s\n", line.c_str());
}

std::string fmt(const char* f, auto... args) {
    char b[512];
    std::snprintf(b, sizeof b, f, args...);
    return b;
}

template <class Net>
void bench_model(const setup& s, const char* name, std::size_t steps) {
    const std::size_t batch = 64 / s.size;
    auto m = std::make_unique<model<Net>>(1);
    std::vector<float> x(batch * Net::input_shape::size);
    std::vector<std::int64_t> y(batch);
    generator gen(s.rank + 1);
    for (float& v : x) v = gen.uniform<float>(-1.0f, 1.0f);
    for (auto& t : y) t = static_cast<std::int64_t>(gen() % 10);
    const auto images = xt::adapt(x.data(), x.size(), xt::no_ownership(), std::array<std::size_t, 4>{batch, 1, 28, 28});
    const auto targets = xt::adapt(y.data(), y.size(), xt::no_ownership(), std::array<std::size_t, 1>{batch});
    optim::sgd<float> opt(m->parameters(), {.lr = 0.01, .momentum = 0.9});

    for (const bool overlap : {true, false}) {
        distributed::data_parallel<model<Net>, buckets> ddp(*m, {.overlap = overlap});
        const auto step = [&] {
            m->forward(images);
            m->cross_entropy(targets);
            ddp.backward();
            opt.step();
        };
        for (int i = 0; i < 2; ++i) step();  // sizes the memory, warms the caches
        MPI_Barrier(MPI_COMM_WORLD);
        ddp.reset_comm_stats();
        std::vector<double> times;
        for (std::size_t i = 0; i < steps; ++i) {
            const auto t0 = clock_type::now();
            step();
            times.push_back(seconds_since(t0));
        }
        double total = 0;
        for (double t : times) total += t;
        double med = median(times), share = ddp.comm_stats().wait_seconds / total;
        double slowest = med, most_wait = share;
        MPI_Allreduce(&med, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&share, &most_wait, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (s.rank == 0)
            std::printf("%-10s %d rank(s) x %d thread(s), batch %2zu per rank, %-8s  step %9.3f ms  %8.0f images/s  "
                        "waiting %5.1f%% of the step\n",
                        name, static_cast<int>(s.size), s.threads, batch, overlap ? "overlap" : "after", slowest * 1e3,
                        64.0 / slowest, 100.0 * most_wait);
        emit(s, fmt("{\"kind\": \"step\", \"model\": \"%s\", \"ranks\": %zu, \"threads\": %d, \"overlap\": %s, "
                    "\"parameters\": %zu, \"step_seconds\": %.9g, \"images_per_second\": %.6g, \"wait_share\": %.6g, "
                    "\"steps\": %zu}",
                    name, s.size, s.threads, overlap ? "true" : "false", Net::parameter_count, slowest, 64.0 / slowest,
                    most_wait, steps));
    }

    if (s.size == 1) {  // the phases of a batch of 64, for the scaling model
        std::vector<double> fwd, bwd;
        for (std::size_t i = 0; i < steps; ++i) {
            auto t0 = clock_type::now();
            m->forward(images);
            m->cross_entropy(targets);
            fwd.push_back(seconds_since(t0));
            t0 = clock_type::now();
            m->backward();
            bwd.push_back(seconds_since(t0));
            opt.step();
        }
        std::printf("%-10s forward %.3f ms, backward %.3f ms (batch 64, %d threads)\n", name, median(fwd) * 1e3,
                    median(bwd) * 1e3, s.threads);
        emit(s, fmt("{\"kind\": \"phases\", \"model\": \"%s\", \"threads\": %d, \"parameters\": %zu, "
                    "\"forward_seconds\": %.9g, \"backward_seconds\": %.9g}",
                    name, s.threads, Net::parameter_count, median(fwd), median(bwd)));
    }
}

void bench_allreduce(const setup& s) {
    if (s.size < 2) return;
    for (const std::size_t n : {std::size_t(1), std::size_t(256), std::size_t(4096), std::size_t(65536),
                                std::size_t(421642), std::size_t(1) << 22}) {
        std::vector<float> v(n, 1.0f);
        const int reps = n > 100000 ? 20 : 200;
        std::vector<double> t;
        for (int i = 0; i < reps + 5; ++i) {
            MPI_Barrier(MPI_COMM_WORLD);
            const auto t0 = clock_type::now();
            distributed::all_reduce_sum(std::span<float>(v));
            if (i >= 5) t.push_back(seconds_since(t0));
        }
        const double med = median(t);
        if (s.rank == 0)
            std::printf("all-reduce %8zu floats: %10.2f us  (%.2f GB/s of data)\n", n, med * 1e6,
                        static_cast<double>(n * 4) / med / 1e9);
        emit(s, fmt("{\"kind\": \"allreduce\", \"ranks\": %zu, \"floats\": %zu, \"seconds\": %.9g}", s.size, n, med));
    }
}

}  // namespace

int main(int argc, char** argv) {
    distributed::context mpi(argc, argv);
    setup s;
    s.rank = mpi.rank();
    s.size = mpi.size();
    std::string json;
    try {
        for (int i = 1; i + 1 < argc; i += 2) {
            if (!std::strcmp(argv[i], "--threads"))
                s.threads = std::stoi(argv[i + 1]);
            else if (!std::strcmp(argv[i], "--steps"))
                s.steps = std::stoul(argv[i + 1]);
            else if (!std::strcmp(argv[i], "--json"))
                json = argv[i + 1];
            else
                throw std::invalid_argument(std::string("unknown option ") + argv[i]);
        }
        if (64 % s.size != 0) throw std::invalid_argument("the ranks must divide the batch of 64");
        set_num_threads(s.threads);
        if (s.rank == 0 && !json.empty() && !(s.json = std::fopen(json.c_str(), "w")))
            throw std::runtime_error("cannot write " + json);
        bench_allreduce(s);
        bench_model<lenet>(s, "lenet", s.steps);
        bench_model<wide_lenet>(s, "wide_lenet", std::max<std::size_t>(3, s.steps / 10));
        if (s.json) std::fclose(s.json);
    } catch (const std::exception& e) {
        mpi.abort(std::string("bench_ddp: ") + e.what());
    }
    return 0;
}
