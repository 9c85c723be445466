// fma_block.hpp's register-blocked product against a plain triple loop: every row count of a block
// and a remainder, one and two vectors of columns and a masked rest, both ways of reading A,
// overwrite and accumulate.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <katachi/kernels/fma_block.hpp>
#include <katachi/random.hpp>
#include <vector>

namespace kd = katachi::kernels::detail;

namespace {

std::vector<float> random_floats(std::size_t n, std::uint64_t seed) {
    katachi::generator g(seed);
    std::vector<float> v(n);
    for (float& x : v) x = g.uniform<float>(-1, 1);
    return v;
}

}  // namespace

TEST_CASE("fma_product equals the plain sum over k for every block shape, with A read by rows or by columns",
          "[fma_block]") {
    if (!kd::fma_block_available()) {
        WARN("this processor has no AVX2 and FMA: fma_product is not used here, nothing to check");
        return;
    }
#if KATACHI_AVX2_CODE
    std::uint64_t seed = 1;
    for (std::size_t m : {1u, 2u, 5u, 6u, 7u, 12u, 13u, 64u})
        for (std::size_t n : {3u, 8u, 13u, 16u, 24u, 29u, 40u, 64u})
            for (std::size_t k : {1u, 3u, 32u, 196u})
                for (bool by_column : {false, true})
                    for (bool accumulate : {false, true}) {
                        INFO("m " << m << ", n " << n << ", k " << k
                                  << (by_column ? ", A by column" : ", A by row")
                                  << (accumulate ? ", accumulate" : ", overwrite"));
                        // A with a leading dimension wider than its extent, B and C too, so strides count.
                        const std::size_t lda = (by_column ? m : k) + 3, ldb = n + 8, ldc = n + 5;
                        const std::size_t a_row = by_column ? 1 : lda, a_step = by_column ? lda : 1;
                        const std::vector<float> a = random_floats((by_column ? k : m) * lda, seed++),
                                                 b = random_floats(k * ldb, seed++);
                        std::vector<float> c = random_floats(m * ldc, seed++);
                        std::vector<double> want(m * ldc);
                        for (std::size_t i = 0; i < m; ++i)
                            for (std::size_t j = 0; j < ldc; ++j) {
                                double sum = j < n && !accumulate ? 0.0 : c[i * ldc + j];
                                if (j < n)
                                    for (std::size_t p = 0; p < k; ++p)
                                        sum += double(a[i * a_row + p * a_step]) * double(b[p * ldb + j]);
                                want[i * ldc + j] = sum;
                            }
                        kd::fma_product(m, n, k, a.data(), a_row, a_step, b.data(), ldb, c.data(), ldc,
                                        accumulate);
                        double worst = 0;
                        for (std::size_t i = 0; i < m * ldc; ++i)
                            worst = std::max(worst, std::abs(double(c[i]) - want[i]));
                        // k products of magnitude below 1, summed in float: a few ulps of k.
                        CHECK(worst <= 1e-6 * double(k + 2));
                    }
#endif
}

TEST_CASE("fma_product's 512-bit path gives the 256-bit path's results bit for bit", "[fma_block][avx512]") {
    if (!kd::avx512_available()) {
        WARN("this processor has no AVX-512F: fma_product runs its 256-bit path only, nothing to compare");
        return;
    }
#if KATACHI_AVX2_CODE
    std::uint64_t seed = 100;
    for (std::size_t m : {1u, 3u, 6u, 7u, 13u, 64u})
        for (std::size_t n : {1u, 5u, 15u, 16u, 17u, 31u, 32u, 33u, 48u, 64u, 70u})
            for (std::size_t k : {1u, 2u, 32u, 197u})
                for (bool by_column : {false, true})
                    for (bool accumulate : {false, true}) {
                        INFO("m " << m << ", n " << n << ", k " << k << (by_column ? ", A by column" : ", A by row")
                                  << (accumulate ? ", accumulate" : ", overwrite"));
                        const std::size_t lda = (by_column ? m : k) + 3, ldb = n + 8, ldc = n + 5;
                        const std::size_t a_row = by_column ? 1 : lda, a_step = by_column ? lda : 1;
                        const std::vector<float> a = random_floats((by_column ? k : m) * lda, seed++),
                                                 b = random_floats(k * ldb, seed++);
                        const std::vector<float> c0 = random_floats(m * ldc, seed++);
                        std::vector<float> wide = c0, narrow = c0;
                        kd::fma_product_avx512(m, n, k, a.data(), a_row, a_step, b.data(), ldb, wide.data(), ldc,
                                               accumulate);
                        kd::fma_product_avx2(m, n, k, a.data(), a_row, a_step, b.data(), ldb, narrow.data(), ldc,
                                             accumulate);
                        CHECK(wide == narrow);  // the columns past n too: left as they were
                    }
#endif
}
