// detail::own_gemm (katachi's own GEMM, own_gemm.hpp) against a plain product in double: float and
// double, every transpose, leading dimensions wider than the matrices, alpha and beta (beta 0 with
// NaN in C), shapes from 1 to 300 including the one-row and one-column products, on every path this
// processor runs (portable, AVX2, AVX-512); and no allocation on any.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <katachi/kernels/gemm.hpp>
#include <katachi/kernels/own_gemm.hpp>
#include <limits>
#include <random>
#include <vector>

#include "support/allocation_counter.hpp"

#include "support/random_values.hpp"

namespace {

using katachi::kernels::detail::gemm_path;
using katachi::kernels::detail::own_gemm;
using katachi::kernels::detail::own_gemm_on;
using katachi::kernels::detail::own_gemm_portable;

// Every path this processor runs: the portable one, and AVX2 and AVX-512 where it has them.
std::vector<gemm_path> paths_here() {
    std::vector<gemm_path> paths{gemm_path::portable};
    if (katachi::kernels::detail::avx2_available()) paths.push_back(gemm_path::avx2);
    if (katachi::kernels::detail::avx512_available()) paths.push_back(gemm_path::avx512);
    return paths;
}

const char* path_name(gemm_path path) {
    return path == gemm_path::portable ? "portable" : path == gemm_path::avx2 ? "AVX2" : "AVX-512";
}

using katachi::test::random_values;

struct shape {
    std::size_t m, n, k;
};

// Every shape the product is checked at: edges of the tiles (4, 6, 8, 16), of the panels (32, 64,
// 256 deep, 64 wide), one row or one column, odd sizes, up to 300.
const std::vector<shape>& shapes() {
    static const std::vector<shape> all = [] {
        std::vector<shape> s = {{1, 1, 1},    {1, 7, 5},      {6, 1, 5},     {1, 1, 300},   {1, 300, 97},
                                {129, 1, 64}, {1, 33, 1},     {2, 2, 2},     {3, 5, 7},     {4, 8, 32},
                                {5, 9, 33},   {6, 16, 256},   {7, 17, 257},  {12, 32, 31},  {13, 65, 70},
                                {64, 64, 64}, {65, 63, 129},  {100, 3, 300}, {3, 100, 300}, {300, 2, 9},
                                {2, 300, 11}, {31, 129, 255}, {47, 71, 19},  {128, 10, 64}, {10, 128, 64}};
        std::mt19937 rng(7);
        std::uniform_int_distribution<std::size_t> size(1, 300);
        while (s.size() < 40) {
            const shape t{size(rng), size(rng), size(rng)};
            if (t.m * t.n * t.k <= 3'000'000) s.push_back(t);
        }
        s.push_back({300, 300, 300});
        return s;
    }();
    return all;
}

struct scaling {
    double alpha, beta;
};

template <class T>
void check(gemm_path path, bool ta, bool tb, shape s, std::size_t pad, scaling ab, std::uint32_t seed) {
    const auto [m, n, k] = s;
    // The stored matrices: A is m x k (k x m transposed), B is k x n (n x k transposed).
    const std::size_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    const std::size_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
    const auto a = random_values<T>(a_rows * lda, seed);
    const auto b = random_values<T>(b_rows * ldb, seed + 1);
    auto c = random_values<T>(m * ldc, seed + 2);
    const T sentinel = T(12345);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = n; j < ldc; ++j) c[i * ldc + j] = sentinel;  // past C's width: untouched
    if (ab.beta == 0)  // beta 0 must not read C: NaN everywhere in it
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = std::numeric_limits<T>::quiet_NaN();
    std::vector<double> expected(m * n), bound(m * n);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double sum = 0, size = 0;
            for (std::size_t p = 0; p < k; ++p) {
                const double x = ta ? a[p * lda + i] : a[i * lda + p];
                const double y = tb ? b[j * ldb + p] : b[p * ldb + j];
                sum += x * y;
                size += std::abs(x * y);
            }
            const double old = static_cast<double>(c[i * ldc + j]);
            expected[i * n + j] = ab.alpha * sum + (ab.beta == 0 ? 0.0 : ab.beta * old);
            bound[i * n + j] = std::abs(ab.alpha) * size + (ab.beta == 0 ? 0.0 : std::abs(ab.beta * old));
        }
    const T alpha = static_cast<T>(ab.alpha), beta = static_cast<T>(ab.beta);
    own_gemm_on(path, ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
    const double eps = std::numeric_limits<T>::epsilon();
    std::size_t wrong = 0, first_wrong = 0;
    double got_wrong = 0;
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            const double got = static_cast<double>(c[i * ldc + j]);
            const double tolerance = 4 * eps * static_cast<double>(k + 2) * bound[i * n + j] + 1e-30;
            if (!(std::abs(got - expected[i * n + j]) <= tolerance)) {
                if (wrong++ == 0) first_wrong = i * n + j, got_wrong = got;
            }
        }
        for (std::size_t j = n; j < ldc; ++j)
            if (c[i * ldc + j] != sentinel) ++wrong;
    }
    INFO(path_name(path) << " path, " << (sizeof(T) == 4 ? "float" : "double") << ", m "
                                                << m << ", n " << n << ", k " << k << ", transpose a " << ta
                                                << ", transpose b " << tb << ", padding " << pad << ", alpha "
                                                << ab.alpha << ", beta " << ab.beta);
    INFO("first wrong element " << first_wrong << ": " << got_wrong << " for "
                                << (wrong ? expected[first_wrong] : 0.0));
    CHECK(wrong == 0);
}

template <class T>
void check_everything(gemm_path path) {
    std::uint32_t seed = 1;
    const std::array<scaling, 4> scalings{{{1, 0}, {0.5, 0.25}, {-1.5, 1}, {2, 0}}};
    std::size_t which = 0;
    for (const shape& s : shapes())
        for (const bool ta : {false, true})
            for (const bool tb : {false, true}) {
                // Each shape and transpose meets two of the scalings, packed and with padding.
                check<T>(path, ta, tb, s, 0, scalings[which++ % 4], seed += 3);
                check<T>(path, ta, tb, s, 3, scalings[which++ % 4], seed += 3);
            }
}

}  // namespace

TEST_CASE("own gemm on float matches the plain product for every shape, transpose and scaling", "[own_gemm]") {
    for (const gemm_path path : paths_here()) check_everything<float>(path);
}

TEST_CASE("own gemm on double matches the plain product for every shape, transpose and scaling", "[own_gemm]") {
    for (const gemm_path path : paths_here()) check_everything<double>(path);
}

TEST_CASE("own gemm takes the fastest path this processor runs", "[own_gemm]") {
    CHECK(katachi::kernels::detail::best_gemm_path() == paths_here().back());
}

TEST_CASE("own gemm with alpha 0 or k 0 only scales C and reads neither A nor B", "[own_gemm]") {
    const std::vector<float> nan_a(12, std::numeric_limits<float>::quiet_NaN());
    for (const std::size_t k : {std::size_t{0}, std::size_t{3}}) {
        std::vector<float> c{1, 2, 3, 4, 5, 6, 7, 8};
        const float alpha = k == 0 ? 1.0f : 0.0f;
        own_gemm(false, false, 2, 4, k, alpha, nan_a.data(), 3, nan_a.data(), 4, 0.5f, c.data(), 4);
        CHECK(c == std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f, 4});
        std::vector<float> nan_c(8, std::numeric_limits<float>::quiet_NaN());
        own_gemm(false, false, 2, 4, k, alpha, nan_a.data(), 3, nan_a.data(), 4, 0.0f, nan_c.data(), 4);
        CHECK(nan_c == std::vector<float>(8, 0.0f));
    }
}

TEST_CASE("own gemm allocates nothing on any path", "[own_gemm]") {
    const auto a = random_values<float>(300 * 300, 1), b = random_values<float>(300 * 300, 2);
    const auto ad = random_values<double>(300 * 300, 3), bd = random_values<double>(300 * 300, 4);
    std::vector<float> c(300 * 300);
    std::vector<double> cd(300 * 300);
    const std::vector<gemm_path> paths = paths_here();
    // Warm-up outside the count: the processor checks' statics.
    own_gemm(false, false, 8, 8, 8, 1.0f, a.data(), 8, b.data(), 8, 0.0f, c.data(), 8);
    const std::size_t before = katachi::test::allocation_count();
    for (const bool ta : {false, true})
        for (const bool tb : {false, true})
            for (const shape s : {shape{300, 300, 300}, shape{1, 300, 300}, shape{300, 1, 300}, shape{37, 5, 290}}) {
                for (const gemm_path path : paths)
                    own_gemm_on(path, ta, tb, s.m, s.n, s.k, 1.0f, a.data(), ta ? s.m : s.k, b.data(),
                                tb ? s.k : s.n, 0.5f, c.data(), s.n);
                own_gemm_portable(ta, tb, s.m, s.n, s.k, 1.0f, a.data(), ta ? s.m : s.k, b.data(),
                                  tb ? s.k : s.n, 0.0f, c.data(), s.n);
                own_gemm(ta, tb, s.m, s.n, s.k, 2.0, ad.data(), ta ? s.m : s.k, bd.data(), tb ? s.k : s.n, 1.0,
                         cd.data(), s.n);
                own_gemm_portable(ta, tb, s.m, s.n, s.k, 2.0, ad.data(), ta ? s.m : s.k, bd.data(),
                                  tb ? s.k : s.n, 0.0, cd.data(), s.n);
#if defined(KATACHI_BLAS_NONE)  // OpenBLAS's own small kernels may allocate: gemm.hpp says why
                katachi::kernels::detail::gemm_block(ta, tb, s.m, s.n, s.k, 1.0f, a.data(), ta ? s.m : s.k,
                                                     b.data(), tb ? s.k : s.n, 0.0f, c.data(), s.n);
#endif
            }
    const std::size_t after = katachi::test::allocation_count();
    CHECK(after - before == 0);
    CHECK(std::isfinite(c[0] + c[89999]));  // the results are used
    CHECK(std::isfinite(cd[0] + cd[89999]));
}
