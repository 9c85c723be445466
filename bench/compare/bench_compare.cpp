// katachi against libtorch, side by side in one process: the graph face, the eager face and
// libtorch 1.13's C++ frontend run the same ten cases (LeNet, MLP 784-256-128-10, tiny MLP
// 4-16-3; training step at batch 64, inference at batch 1 and 256; the tiny MLP's training step at
// batch 1 too), float32, with the same thread
// count (2 by default). Prints the median (min-max) per case, the ratios katachi / libtorch against
// the goals, as a Markdown table and as JSON lines.
//
//   bench_compare [--threads N] [--json FILE] [--only TEXT]   (--only: the cases whose name contains TEXT)
//
// Threads: katachi runs on its own pool of N threads (katachi::set_num_threads) with OpenBLAS on
// one thread inside it. libtorch runs in two configurations, its pool at N threads with OpenBLAS at
// 1 and with OpenBLAS at N (two pools on the same cores fight; PERFORMANCE.md), and each case is
// compared with libtorch's better one. Samples of the four runs
// are interleaved (3 rounds of 7), so a change of load on a shared machine reaches all of them, with
// a pause at each switch for the previous run's threads to go idle.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <katachi/parallel.hpp>

#include "cases.hpp"

extern "C" void openblas_set_num_threads(int);

namespace {

using katachi::bench::bench_case;

struct stats {
    double median_us = 0, min_us = 0, max_us = 0;
    long reps = 1;
};

struct runner {
    runner(std::string n, const bench_case* w, int blas, int torch)
        : name(std::move(n)), work(w), blas_threads(blas), torch_threads(torch) {}

    std::string name;
    const bench_case* work;
    int blas_threads;
    int torch_threads;  // 0: katachi, whose own pool was sized once at the start
    long reps = 1;
    std::vector<double> samples_us;

    void configure() const {
        openblas_set_num_threads(blas_threads);
        if (torch_threads) katachi::bench::libtorch_set_threads(torch_threads);
    }
    double time_us(long n) const {
        const auto start = std::chrono::steady_clock::now();
        for (long i = 0; i < n; ++i) work->run();
        return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
               static_cast<double>(n);
    }
    // Warm-up, then enough calls per sample that one sample lasts at least a millisecond.
    void calibrate() {
        configure();
        for (int i = 0; i < 3; ++i) work->run();
        const double once = std::max(0.01, time_us(3));
        reps = std::clamp(static_cast<long>(std::ceil(1000.0 / once)), 1L, 1'000'000L);
    }
    // The previous run's pool (OpenBLAS's or libtorch's OpenMP threads) keeps spinning for a while
    // after its last job; a pause lets it park before this run's samples, so that no run is timed
    // against the spinning threads of another. OpenBLAS's workers spin for 2^28 clock cycles (its
    // THREAD_TIMEOUT, about 90 ms at 3 GHz) after a product, so a run that gave OpenBLAS more than
    // one thread is followed by a longer pause: with 100 ms, the next run often shared a core with
    // a spinning OpenBLAS thread and took up to twice its time.
    void sample(int n, const runner* previous) {
        configure();
        const bool blas_pool_was_busy = previous != nullptr && previous->blas_threads > 1;
        std::this_thread::sleep_for(std::chrono::milliseconds(blas_pool_was_busy ? 400 : 100));
        // After the pause the cores come back cold (caches, the pools' parked threads, a virtual
        // machine's idle cores): 20 ms of calls before the samples, so that every run's samples
        // see the same warm machine; with one call, katachi's batch-1 cases took up to twice the
        // time they take in a steady stream.
        const auto warm = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
        do work->run();
        while (std::chrono::steady_clock::now() < warm);
        for (int i = 0; i < n; ++i) samples_us.push_back(time_us(reps));
    }
    stats result() const {
        std::vector<double> s = samples_us;
        std::sort(s.begin(), s.end());
        return {s[s.size() / 2], s.front(), s.back(), reps};
    }
};

std::string case_name(const bench_case& c) {
    return c.model + (c.kind == "train" ? " training step, batch " : " inference, batch ") +
           std::to_string(c.batch);
}

// Goals for the graph face and the eager face: round 2's (issue 16) where it names the case,
// round 1's (PERFORMANCE.md) elsewhere; none where neither round set one.
std::optional<double> graph_goal(const bench_case& c) {
    if (c.model == "lenet" && c.kind == "train") return 0.35;
    if (c.model == "lenet" && c.kind == "infer" && c.batch == 1) return 0.2;
    if (c.model == "lenet" && c.kind == "infer" && c.batch == 256) return 0.25;
    if (c.model == "mlp" && c.kind == "train") return 0.4;
    if (c.model == "mlp" && c.kind == "infer" && c.batch == 256) return 0.4;
    if (c.model == "tiny_mlp" && c.kind == "train" && c.batch == 1) return 0.02;
    if (c.model == "tiny_mlp" && c.kind == "infer" && c.batch == 1) return 1.0 / 20;
    return std::nullopt;
}

double eager_goal(const bench_case& c) {
    if (c.model == "tiny_mlp" && c.kind == "train" && c.batch == 1) return 0.05;
    if (c.model == "lenet") return 0.6;
    if (c.model == "mlp" && (c.kind == "train" || c.batch == 256)) return 0.6;
    return 1.2;
}

std::string time_text(const stats& s) {
    char buffer[96];
    const char* format = s.median_us < 10     ? "%.2f (%.2f–%.2f)"
                         : s.median_us < 1000 ? "%.1f (%.1f–%.1f)"
                                              : "%.0f (%.0f–%.0f)";
    std::snprintf(buffer, sizeof buffer, format, s.median_us, s.min_us, s.max_us);
    return buffer;
}

std::string ratio_text(double ratio, std::optional<double> goal) {
    char buffer[64];
    if (!goal)
        std::snprintf(buffer, sizeof buffer, "%.3f", ratio);
    else if (*goal < 0.1)
        std::snprintf(buffer, sizeof buffer, "%.3f (≤ 1/%.0f: %s)", ratio, 1 / *goal,
                      ratio <= *goal ? "met" : "MISSED");
    else
        std::snprintf(buffer, sizeof buffer, "%.3f (≤ %.2f: %s)", ratio, *goal,
                      ratio <= *goal ? "met" : "MISSED");
    return buffer;
}

std::string json_line(const bench_case& c, const std::string& impl, const stats& s,
                      std::optional<double> ratio, std::optional<double> goal) {
    char buffer[512];
    std::snprintf(buffer, sizeof buffer,
                  "{\"case\": \"%s\", \"model\": \"%s\", \"kind\": \"%s\", \"batch\": %zu, \"impl\": \"%s\", "
                  "\"median_us\": %.4g, \"min_us\": %.4g, \"max_us\": %.4g, \"calls_per_sample\": %ld",
                  case_name(c).c_str(), c.model.c_str(), c.kind.c_str(), c.batch, impl.c_str(), s.median_us,
                  s.min_us, s.max_us, s.reps);
    std::string out = buffer;
    if (ratio) {
        std::snprintf(buffer, sizeof buffer, ", \"ratio_to_libtorch\": %.4g", *ratio);
        out += buffer;
    }
    if (ratio && goal) {
        std::snprintf(buffer, sizeof buffer, ", \"goal\": %.4g, \"met\": %s", *goal,
                      *ratio <= *goal ? "true" : "false");
        out += buffer;
    }
    return out + "}";
}

std::string first_line_of(const char* path, const char* prefix) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(prefix, 0) == 0) return line.substr(line.find(':') + 2);
    return "?";
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 2;
    std::string json_path, only;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string arg = argv[i];
        if (arg == "--threads")
            threads = std::max(1, std::atoi(argv[i + 1]));
        else if (arg == "--json")
            json_path = argv[i + 1];
        else if (arg == "--only")
            only = argv[i + 1];
    }
    const std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
    const std::string load_before = load_average();

    katachi::set_num_threads(threads);
    // Denormal floats flushed to zero for both libraries, as the demo trains and as PyTorch advises
    // for speed (torch.set_flush_denormal): a training step repeated on one fixed batch drives its
    // loss and gradients towards zero, and the tiny MLP's step then spends three quarters of its time
    // in the processor's slow path for denormal arithmetic (1.2 against 0.39 us in katachi), which
    // measures the floating-point unit rather than either library. Both set the calling thread,
    // where every case runs its small operations; katachi's workers follow its setting.
    katachi::set_flush_denormal(true);
    katachi::bench::libtorch_set_flush_denormal(true);
    const std::vector<bench_case> graph = katachi::bench::graph_cases(),
                                  eager = katachi::bench::eager_cases(),
                                  torch = katachi::bench::libtorch_cases();

    std::vector<std::string> rows, json;
    for (std::size_t i = 0; i < graph.size(); ++i) {
        if (!only.empty() && case_name(graph[i]).find(only) == std::string::npos) continue;
        std::vector<runner> runs{
            {"graph", &graph[i], 1, 0},
            {"eager", &eager[i], 1, 0},
            {"libtorch, OpenBLAS 1 thread", &torch[i], 1, threads},
            {"libtorch, OpenBLAS " + std::to_string(threads) + " threads", &torch[i], threads, threads}};
        for (runner& r : runs) r.calibrate();
        const runner* previous = &runs.back();
        for (int round = 0; round < 3; ++round)
            for (runner& r : runs) {
                r.sample(7, previous);
                previous = &r;
            }
        const stats g = runs[0].result(), e = runs[1].result(), t1 = runs[2].result(), tn = runs[3].result();
        const bool first_best = t1.median_us <= tn.median_us;
        const stats& t = first_best ? t1 : tn;
        const double graph_ratio = g.median_us / t.median_us, eager_ratio = e.median_us / t.median_us;
        const auto goal = graph_goal(graph[i]);
        rows.push_back("| " + case_name(graph[i]) + " | " + time_text(g) + " | " + time_text(e) + " | " +
                       time_text(t) + (first_best ? " ¹" : " ²") + " | " + ratio_text(graph_ratio, goal) +
                       " | " + ratio_text(eager_ratio, eager_goal(eager[i])) + " |");
        json.push_back(json_line(graph[i], "katachi graph", g, graph_ratio, goal));
        json.push_back(json_line(eager[i], "katachi eager", e, eager_ratio, eager_goal(eager[i])));
        json.push_back(json_line(torch[i], runs[2].name, t1, std::nullopt, std::nullopt));
        json.push_back(json_line(torch[i], runs[3].name, tn, std::nullopt, std::nullopt));
        std::fprintf(stderr, "measured %s\n", case_name(graph[i]).c_str());
    }

    std::printf("katachi vs libtorch 1.13's C++ frontend, float32, %d threads, %s\n", threads, date);
    std::printf("CPU: %s, %u online; load average %s before, %s after\n\n",
                first_line_of("/proc/cpuinfo", "model name").c_str(), std::thread::hardware_concurrency(),
                load_before.c_str(), load_average().c_str());
    std::printf(
        "| case | graph face, µs | eager face, µs | libtorch (best), µs | graph / libtorch | eager / "
        "libtorch |\n");
    std::printf("|---|---|---|---|---|---|\n");
    for (const auto& row : rows) std::printf("%s\n", row.c_str());
    std::printf(
        "\nmedian (min–max) of 21 samples, interleaved in 3 rounds after warm-up; libtorch ¹ with OpenBLAS "
        "on "
        "1 thread, ² with OpenBLAS on %d threads (its better configuration per case)\n\n",
        threads);
    std::ofstream json_file;
    if (!json_path.empty()) json_file.open(json_path);
    for (const auto& line : json) {
        std::printf("%s\n", line.c_str());
        if (json_file.is_open()) json_file << line << '\n';
    }
    return 0;
}
