// Benchmark of winograd_sparse_backward (kernels/winograd/sparse_backward.hpp) against Winograd's
// dense backward (winograd_weight_grad, then winograd_convolve on the adjoint) for the output
// gradient densities around winograd_sparse_density, the share of nonzero entries up to which
// conv2d's backward takes the sparse sums. Batch 64, 3x3 convolutions of padding 1 at the LeNet's
// second convolution's size and four others; dy's nonzero entries at random positions.
//
// Each repetition runs both passes, one after the other; a row gives the medians of each and the
// median of the per-repetition ratios (sparse / Winograd), on one thread and then on two. Where the
// ratio passes 1 the threshold should lie. Needs AVX-512F (the sparse pass is its only path).
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "katachi/kernels/conv2d.hpp"
#include "katachi/parallel.hpp"

namespace kd = katachi::kernels::detail;
using katachi::kernels::write;

namespace {

struct shape {
    std::size_t channels, out_channels, size;
};

double seconds_of(auto&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

void run(const shape& sh, int threads, int reps) {
    constexpr std::size_t batch = 64;
    const std::array<std::size_t, 4> xs{batch, sh.channels, sh.size, sh.size},
        wsh{sh.out_channels, sh.channels, 3, 3};
    katachi::kernels::conv2d_options opts;
    opts.padding = {1, 1};
    const kd::conv_geometry g = kd::conv2d_geometry_of(xs, wsh, opts);
    const kd::winograd_shape s = g.winograd_sizes();
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> x(batch * sh.channels * sh.size * sh.size), w(sh.out_channels * sh.channels * 9);
    std::vector<float> dy(batch * sh.out_channels * sh.size * sh.size), dx(x.size()), dw(w.size()),
        db(sh.out_channels);
    std::vector<float> ws(std::max(g.workspace_size(), kd::winograd_sparse_workspace_size(s)));
    for (auto& v : x) v = u(rng);
    for (auto& v : w) v = u(rng);
    katachi::set_num_threads(threads);
    for (const double density : {0.1, 0.2, 0.3, 0.4, 0.5, 0.6}) {
        std::bernoulli_distribution nonzero(density);
        for (auto& v : dy) v = nonzero(rng) ? u(rng) : 0.f;
        std::vector<double> sparse, dense, ratio;
        for (int r = 0; r < reps + 2; ++r) {
            const double ts = seconds_of([&] {
                kd::winograd_sparse_backward(s, x.data(), w.data(), dy.data(), dw.data(), db.data(),
                                             dx.data(), ws.data(), write::overwrite);
            });
            const double td = seconds_of([&] {
                kd::winograd_weight_grad(s, x.data(), dy.data(), dw.data(), db.data(), ws.data(),
                                         write::overwrite);
                kd::winograd_convolve(s.adjoint(), dy.data(), w.data(), true,
                                      static_cast<const float*>(nullptr), dx.data(), ws.data(),
                                      write::overwrite);
            });
            if (r < 2) continue;  // warm-up
            sparse.push_back(ts);
            dense.push_back(td);
            ratio.push_back(ts / td);
        }
        std::printf("| %zu -> %zu, %zux%zu | %d | %.2f | %.0f | %.0f | %.2f |\n", sh.channels,
                    sh.out_channels, sh.size, sh.size, threads, density, median(sparse) * 1e6,
                    median(dense) * 1e6, median(ratio));
    }
}

}  // namespace

int main() {
    if (!kd::avx512_available()) {
        std::printf(
            "winograd_sparse_backward needs AVX-512F, which this processor lacks: nothing to measure\n");
        return 0;
    }
    std::printf("winograd_sparse_density = %.2f; batch 64, 3x3, padding 1\n\n", kd::winograd_sparse_density);
    std::printf("| convolution | threads | density | sparse, us | Winograd, us | sparse / Winograd |\n");
    std::printf("|---|---|---|---|---|---|\n");
    for (const shape& sh : {shape{32, 64, 14}, shape{16, 32, 28}, shape{64, 64, 8}, shape{64, 128, 7}})
        for (const int threads : {1, 2}) run(sh, threads, 15);
}
