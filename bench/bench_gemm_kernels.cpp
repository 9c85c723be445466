// Benchmark of the GEMM-shaped kernels at LeNet's sizes, batch 64: conv2d 1->32 on 28x28 and
// 32->64 on 14x14 (3x3, padding 1), linear 3136->128; forward and backward.
//
// Each kernel (on katachi's threads) is compared with the plain cblas_sgemm calls (on as many
// OpenBLAS threads) an ideal lowering of the whole batch would make on operands already laid out (for a convolution: one GEMM over the im2col
// matrix of all 64 samples). The ratio sgemm time / katachi time says how much of the GEMM's speed
// the kernel keeps once im2col, col2im, bias and the per-sample split are paid for (target >= 0.8).
// Times are medians over the timed repetitions after a warm-up. Kernel and reference alternate in
// every repetition and the ratio is the median of the per-repetition ratios, so a change of machine
// load between repetitions affects both sides alike. The table is printed for OpenBLAS's default
// thread count and again for one thread, which shows the kernels' own overhead without threads.
//
// The reference calls OpenBLAS's cblas_sgemm directly. It is declared here by xtensor-blas, which
// carries its own copy of the netlib CBLAS header (OpenBLAS's <cblas.h> redefines the same enums and
// cannot share a translation unit with it); the symbol linked is OpenBLAS's either way.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include "katachi/kernels/conv2d.hpp"
#include "katachi/kernels/linear.hpp"

// OpenBLAS's own extensions, not part of CBLAS.
extern "C" void openblas_set_num_threads(int threads);

namespace {

using katachi::kernels::none;

constexpr int warmup = 5;
constexpr int repetitions = 31;
constexpr std::size_t batch = 64;

xt::xtensor<float, 4> random4(std::array<std::size_t, 4> shape, std::uint32_t seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    xt::xtensor<float, 4> a(shape);
    for (auto& v : a) v = dist(gen);
    return a;
}

std::vector<float> random_vector(std::size_t n, std::uint32_t seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(gen);
    return v;
}

double seconds_of(const std::function<void()>& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

struct result {
    std::string name, phase, gemms;
    double flops, kernel_s, sgemm_s, ratio;
};

// Threads of the current table: katachi's pool for the kernels, OpenBLAS's pool for the reference
// (katachi runs OpenBLAS on one thread, so the reference sets OpenBLAS's count around its calls).
int table_threads = 1;

// Times `kernel` and `reference` alternately and returns both medians.
result measure(std::string name, std::string phase, std::string gemms, double flops,
               const std::function<void()>& kernel, const std::function<void()>& plain) {
    const auto reference = [&] {
        openblas_set_num_threads(table_threads);
        plain();
        openblas_set_num_threads(1);
    };
    for (int i = 0; i < warmup; ++i) kernel(), reference();
    std::vector<double> k, r, ratios;
    for (int i = 0; i < repetitions; ++i) {
        k.push_back(seconds_of(kernel));
        r.push_back(seconds_of(reference));
        ratios.push_back(r.back() / k.back());
    }
    return {std::move(name), std::move(phase), std::move(gemms), flops, median(k), median(r), median(ratios)};
}

// C[m, n] = op(A) op(B), row-major, packed.
void sgemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b,
           float* c, float beta = 0.0f) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a,
                static_cast<int>(ta ? m : k), b, static_cast<int>(tb ? k : n), beta, c, static_cast<int>(n));
}

std::string shape_text(std::size_t m, std::size_t n, std::size_t k) {
    return std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
}

// conv2d with a 3x3 kernel and padding 1 on [batch, c, hw, hw] -> [batch, o, hw, hw]. The first
// layer of a network needs no input gradient, so `input_gradient` leaves dx out as training does.
void bench_conv(std::vector<result>& out, const std::string& name, std::size_t c, std::size_t o,
                std::size_t hw, bool input_gradient) {
    const katachi::kernels::conv2d_options opts{.padding = {1, 1}};
    const auto x = random4({batch, c, hw, hw}, 1);
    const auto w = random4({o, c, 3, 3}, 2);
    const std::vector<float> bias = random_vector(o, 3);
    const auto b = xt::adapt(bias.data(), o, xt::no_ownership(), std::array<std::size_t, 1>{o});
    const auto dy = random4({batch, o, hw, hw}, 4);
    xt::xtensor<float, 4> y(std::array<std::size_t, 4>{batch, o, hw, hw});
    xt::xtensor<float, 4> dx(x.shape());
    xt::xtensor<float, 4> dw(w.shape());
    xt::xtensor<float, 1> db(b.shape());
    std::vector<float> ws(katachi::kernels::conv2d_workspace_size(x.shape(), w.shape(), opts));

    const std::size_t p = hw * hw, k = c * 9, columns = batch * p;
    const std::vector<float> col = random_vector(k * columns, 5), dy_rows = random_vector(o * columns, 6);
    std::vector<float> ref_y(o * columns), ref_dw(o * k), ref_dcol(k * columns);
    const double gemm_flops = 2.0 * static_cast<double>(o * k * columns);

    out.push_back(measure(
        name, "forward", shape_text(o, columns, k), gemm_flops,
        [&] { katachi::kernels::conv2d_forward(x, w, b, y, opts, ws); },
        [&] { sgemm(false, false, o, columns, k, w.data(), col.data(), ref_y.data()); }));
    if (input_gradient) {
        out.push_back(measure(
            name, "backward", shape_text(o, k, columns) + " + " + shape_text(k, columns, o), 2 * gemm_flops,
            [&] { katachi::kernels::conv2d_backward(x, w, dy, dx, dw, db, opts, ws); },
            [&] {
                sgemm(false, true, o, k, columns, dy_rows.data(), col.data(), ref_dw.data());
                sgemm(true, false, k, columns, o, w.data(), dy_rows.data(), ref_dcol.data());
            }));
    } else {
        out.push_back(measure(
            name, "backward (no dx)", shape_text(o, k, columns), gemm_flops,
            [&] { katachi::kernels::conv2d_backward(x, w, dy, none, dw, db, opts, ws); },
            [&] { sgemm(false, true, o, k, columns, dy_rows.data(), col.data(), ref_dw.data()); }));
    }
}

void bench_linear(std::vector<result>& out, std::size_t in, std::size_t o) {
    const std::vector<float> xs = random_vector(batch * in, 1), ws = random_vector(o * in, 2),
                             bs = random_vector(o, 3), dys = random_vector(batch * o, 4);
    const auto x =
        xt::adapt(xs.data(), batch * in, xt::no_ownership(), std::array<std::size_t, 2>{batch, in});
    const auto w = xt::adapt(ws.data(), o * in, xt::no_ownership(), std::array<std::size_t, 2>{o, in});
    const auto b = xt::adapt(bs.data(), o, xt::no_ownership(), std::array<std::size_t, 1>{o});
    const auto dy =
        xt::adapt(dys.data(), batch * o, xt::no_ownership(), std::array<std::size_t, 2>{batch, o});
    xt::xtensor<float, 2> y(std::array<std::size_t, 2>{batch, o}), dx(std::array<std::size_t, 2>{batch, in}),
        dw(std::array<std::size_t, 2>{o, in});
    xt::xtensor<float, 1> db(std::array<std::size_t, 1>{o});
    std::vector<float> ref_y(batch * o), ref_dx(batch * in), ref_dw(o * in);
    const double gemm_flops = 2.0 * static_cast<double>(batch * in * o);
    const std::string name = "linear " + std::to_string(in) + "->" + std::to_string(o);

    out.push_back(measure(
        name, "forward", shape_text(batch, o, in), gemm_flops,
        [&] { katachi::kernels::linear_forward(x, w, b, y); },
        [&] { sgemm(false, true, batch, o, in, xs.data(), ws.data(), ref_y.data()); }));
    out.push_back(measure(
        name, "backward", shape_text(batch, in, o) + " + " + shape_text(o, in, batch), 2 * gemm_flops,
        [&] { katachi::kernels::linear_backward(x, w, dy, dx, dw, db); },
        [&] {
            sgemm(false, false, batch, in, o, dys.data(), ws.data(), ref_dx.data());
            sgemm(true, false, o, in, batch, dys.data(), xs.data(), ref_dw.data());
        }));
}

// Runs every measurement and prints one table; returns whether every ratio met the target.
bool run_table(int threads) {
    katachi::set_num_threads(threads);
    table_threads = threads;
    std::vector<result> results;
    bench_conv(results, "conv2d 1->32 28x28", 1, 32, 28, false);
    bench_conv(results, "conv2d 32->64 14x14", 32, 64, 14, true);
    bench_linear(results, 3136, 128);

    std::printf("\n%d thread(s), batch %zu, float32; medians of %d runs after %d warm-up runs\n", threads,
                batch, repetitions, warmup);
    std::printf("%-20s %-17s %-29s %10s %8s %10s %8s %6s\n", "kernel", "phase", "sgemm MxNxK (whole batch)",
                "katachi ms", "GFLOP/s", "sgemm ms", "GFLOP/s", "ratio");
    bool all_met = true;
    for (const result& r : results) {
        all_met = all_met && r.ratio >= 0.8;
        std::printf("%-20s %-17s %-29s %10.3f %8.2f %10.3f %8.2f %6.2f\n", r.name.c_str(), r.phase.c_str(),
                    r.gemms.c_str(), r.kernel_s * 1e3, r.flops / r.kernel_s * 1e-9, r.sgemm_s * 1e3,
                    r.flops / r.sgemm_s * 1e-9, r.ratio);
    }
    return all_met;
}

}  // namespace

int main() {
    std::printf("katachi GEMM-shaped kernels against plain cblas_sgemm of the whole batch's GEMMs\n");
    std::printf("ratio = sgemm time / katachi time (median of paired runs); target >= 0.80\n");
    const int default_threads = katachi::get_num_threads();
    const bool met = run_table(default_threads);
    if (default_threads > 1) run_table(1);
    std::printf("\ntarget with %d thread(s): %s\n", default_threads, met ? "met" : "NOT met");
    return 0;
}
