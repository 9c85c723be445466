// Benchmark of katachi's own GEMM (kernels/own_gemm.hpp, what -Dblas=none runs) beside OpenBLAS's
// cblas_sgemm, float, one thread each, on the products of LeNet at batch 64 and on square ones.
//
// LeNet here is the Fashion-MNIST network on 28x28 input: conv2d<32, 3, padding 1>, pooling to
// 14x14, conv2d<64, 3, padding 1>, pooling to 7x7, linear 3136->128, linear 128->10. A convolution
// is its im2col GEMM over the whole batch (columns = 64 samples x output pixels): forward
// W[o, c*9] col[c*9, 64*hw*hw], weight gradient dY col^T, column gradient W^T dY. A linear layer at
// batch 64: forward X W^T, input gradient dY W, weight gradient dY^T X.
//
// Each sample times a fixed number of calls of one product (enough for about 20 ms); own GEMM and
// OpenBLAS alternate, and the table gives the median GFLOP/s of each over the samples and the
// median of the per-sample ratios (own / OpenBLAS: above 1, own GEMM is faster). Own GEMM runs on
// the fastest path this processor has (own_gemm); where that is AVX-512, its AVX2 path is timed
// too, beside it, which shows what the 512-bit kernels gain.
//
// cblas_sgemm is declared by xtensor-blas's copy of the CBLAS header, which gemm.hpp includes in
// this (OpenBLAS) build; the symbol linked is OpenBLAS's.
#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "katachi/kernels/gemm.hpp"
#include "katachi/parallel.hpp"

namespace {

constexpr int samples = 21;
constexpr double sample_flops = 4e8;  // about 20 ms a sample at 20 GFLOP/s

struct product {
    std::string name;
    bool ta, tb;
    std::size_t m, n, k;
};

std::vector<float> random_vector(std::size_t n, std::uint32_t seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(gen);
    return v;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <class F>
double seconds_of(int calls, F&& f) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void run(const product& p) {
    const std::size_t lda = p.ta ? p.m : p.k, ldb = p.tb ? p.k : p.n;
    const std::vector<float> a = random_vector(p.m * p.k, 1), b = random_vector(p.k * p.n, 2);
    std::vector<float> c(p.m * p.n), reference(p.m * p.n);
    const auto own_on = [&](katachi::kernels::detail::gemm_path path) {
        katachi::kernels::detail::own_gemm_on(path, p.ta, p.tb, p.m, p.n, p.k, 1.0f, a.data(), lda, b.data(), ldb,
                                              0.0f, c.data(), p.n);
    };
    const auto best = katachi::kernels::detail::best_gemm_path();
    const auto own = [&] { own_on(best); };
    const auto own_avx2 = [&] { own_on(katachi::kernels::detail::gemm_path::avx2); };
    const bool both = best == katachi::kernels::detail::gemm_path::avx512;
    const auto blas = [&] {
        cblas_sgemm(CblasRowMajor, p.ta ? CblasTrans : CblasNoTrans, p.tb ? CblasTrans : CblasNoTrans,
                    static_cast<int>(p.m), static_cast<int>(p.n), static_cast<int>(p.k), 1.0f, a.data(),
                    static_cast<int>(lda), b.data(), static_cast<int>(ldb), 0.0f, reference.data(),
                    static_cast<int>(p.n));
    };
    const double flops = 2.0 * static_cast<double>(p.m) * static_cast<double>(p.n) * static_cast<double>(p.k);
    const int calls = std::max(1, static_cast<int>(sample_flops / flops));
    seconds_of(calls, own), seconds_of(calls, blas);  // warm-up
    if (both) seconds_of(calls, own_avx2);
    std::vector<double> own_rate, avx2_rate, blas_rate, ratio;
    for (int s = 0; s < samples; ++s) {
        const double t_own = seconds_of(calls, own), t_blas = seconds_of(calls, blas);
        if (both) avx2_rate.push_back(flops * calls / seconds_of(calls, own_avx2) * 1e-9);
        own_rate.push_back(flops * calls / t_own * 1e-9);
        blas_rate.push_back(flops * calls / t_blas * 1e-9);
        ratio.push_back(t_blas / t_own);
    }
    own();
    double worst = 0;  // the two results agree
    for (std::size_t i = 0; i < c.size(); ++i)
        worst = std::max(worst, static_cast<double>(std::abs(c[i] - reference[i])));
    const std::string mnk = std::to_string(p.m) + "x" + std::to_string(p.n) + "x" + std::to_string(p.k);
    std::printf("%-26s %-3s %-15s %9.1f %9.1f %9.1f %6.2f %9.1e\n", p.name.c_str(),
                p.ta ? (p.tb ? "TT" : "TN") : (p.tb ? "NT" : "NN"), mnk.c_str(), median(own_rate),
                both ? median(avx2_rate) : 0.0, median(blas_rate), median(ratio), worst);
}

}  // namespace

int main() {
    katachi::set_num_threads(1);  // and OpenBLAS to one thread
    constexpr std::size_t batch = 64;
    std::vector<product> products;
    // conv2d: o output channels, c input channels, hw x hw output, 3x3 kernel.
    const auto conv = [&](const std::string& name, std::size_t c, std::size_t o, std::size_t hw) {
        const std::size_t k = c * 9, columns = batch * hw * hw;
        products.push_back({name + " forward", false, false, o, columns, k});
        products.push_back({name + " dW", false, true, o, k, columns});
        products.push_back({name + " dcol", true, false, k, columns, o});
    };
    const auto linear = [&](const std::string& name, std::size_t in, std::size_t out) {
        products.push_back({name + " forward", false, true, batch, out, in});
        products.push_back({name + " dX", false, false, batch, in, out});
        products.push_back({name + " dW", true, false, out, in, batch});
    };
    conv("conv 1->32 28x28", 1, 32, 28);
    conv("conv 32->64 14x14", 32, 64, 14);
    linear("linear 3136->128", 3136, 128);
    linear("linear 128->10", 128, 10);
    for (const std::size_t s : {64, 128, 256, 512, 1024}) products.push_back({"square", false, false, s, s, s});

    const auto best = katachi::kernels::detail::best_gemm_path();
    std::printf("katachi own GEMM beside OpenBLAS cblas_sgemm, float, 1 thread, alpha 1, beta 0\n");
    std::printf("own GEMM on its %s path; GFLOP/s and ratio (OpenBLAS time / own time, above 1: own GEMM\n",
                best == katachi::kernels::detail::gemm_path::avx512 ? "AVX-512"
                : best == katachi::kernels::detail::gemm_path::avx2 ? "AVX2"
                                                                    : "portable");
    std::printf("faster) are medians of %d samples; own AVX2 = its AVX2 path (0: not timed)\n", samples);
    std::printf("%-26s %-3s %-15s %9s %9s %9s %6s %9s\n", "product", "op", "MxNxK", "own", "own AVX2", "OpenBLAS",
                "ratio", "max diff");
    for (const product& p : products) run(p);
    return 0;
}
