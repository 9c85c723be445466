// katachi/kernels/fma_block.hpp: a small float matrix product in AVX2 registers, for products
// too short for OpenBLAS to pay off its packing (Winograd's 16 per chunk of tiles, inner size the
// channel count).
//
//   C[i, j] = (C[i, j] +) sum over p < k of A(i, p) * B[p, j]      i < m, j < n
//
// A is read through two strides, A(i, p) = a[i * a_row + p * a_step], so one routine serves a
// row-major A (a_row = lda, a_step = 1) and a transposed one (a_row = 1, a_step = lda) alike; B and
// C are row-major with leading dimensions. C is cut into blocks of up to 6 rows by 16 columns,
// each summed in 12 vector registers over the whole of k: per step of p, two loads of B's row,
// one broadcast of A per row, and 12 fused multiply-adds, so the loop runs at the FMA units' rate
// with nothing packed. A row's last columns, when n is not a multiple of 8, go through masked
// loads and stores.
//
// It is compiled for AVX2 and FMA whatever the translation unit's flags (simd.hpp); callers check
// fma_block_available() and keep their OpenBLAS path where it is false.
#pragma once

#include <cstddef>
#include <katachi/kernels/fma_block_avx512.hpp>
#include <katachi/kernels/simd.hpp>

namespace katachi::kernels::detail {

// Whether fma_product can run here.
inline bool fma_block_available() {
    return avx2_available();
}

// The largest block of C summed in registers: 6 rows of 2 vectors of 8 floats.
inline constexpr std::size_t fma_block_rows = 6, fma_block_cols = 16;

#if KATACHI_AVX2_CODE

// Row i of a block: its accumulators at the start (zeros, or C's row), after one step of p, and
// stored back. Rows past R and vectors past V are left alone.
template <std::size_t R, std::size_t V, bool Tail>
KATACHI_TARGET_AVX2 inline void fma_start(std::size_t i, const float* c, bool accumulate, __m256i tail,
                                          __m256& x0, __m256& x1) {
    x0 = x1 = _mm256_setzero_ps();
    if (i >= R || !accumulate) return;
    x0 = Tail ? _mm256_maskload_ps(c, tail) : _mm256_loadu_ps(c);
    if constexpr (V == 2) x1 = _mm256_loadu_ps(c + 8);
}

template <std::size_t R, std::size_t V>
KATACHI_TARGET_AVX2 inline void fma_step(std::size_t i, const float* a, const __m256& b0, const __m256& b1,
                                         __m256& x0, __m256& x1) {
    if (i >= R) return;
    const __m256 scale = _mm256_broadcast_ss(a);
    x0 = _mm256_fmadd_ps(scale, b0, x0);
    if constexpr (V == 2) x1 = _mm256_fmadd_ps(scale, b1, x1);
}

template <std::size_t R, std::size_t V, bool Tail>
KATACHI_TARGET_AVX2 inline void fma_finish(std::size_t i, float* c, __m256i tail, const __m256& x0,
                                           const __m256& x1) {
    if (i >= R) return;
    if constexpr (Tail)
        _mm256_maskstore_ps(c, tail, x0);
    else
        _mm256_storeu_ps(c, x0);
    if constexpr (V == 2) _mm256_storeu_ps(c + 8, x1);
}

// One block of C: R rows, 8 * V columns, or with Tail one vector of the columns `tail` selects (the
// last, short, block of a row: loads and stores masked). The accumulators are named one by one:
// held in an array, GCC 12 writes them back to the stack on every step of p.
template <std::size_t R, std::size_t V, bool Tail = false>
KATACHI_TARGET_AVX2 inline void fma_block(std::size_t k, const float* a, std::size_t a_row,
                                          std::size_t a_step, const float* b, std::size_t ldb, float* c,
                                          std::size_t ldc, bool accumulate, __m256i tail = __m256i{}) {
    static_assert(R >= 1 && R <= 6 && (V == 1 || V == 2) && (!Tail || V == 1));
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    fma_start<R, V, Tail>(0, c, accumulate, tail, c00, c01);
    fma_start<R, V, Tail>(1, c + ldc, accumulate, tail, c10, c11);
    fma_start<R, V, Tail>(2, c + 2 * ldc, accumulate, tail, c20, c21);
    fma_start<R, V, Tail>(3, c + 3 * ldc, accumulate, tail, c30, c31);
    fma_start<R, V, Tail>(4, c + 4 * ldc, accumulate, tail, c40, c41);
    fma_start<R, V, Tail>(5, c + 5 * ldc, accumulate, tail, c50, c51);
    for (std::size_t p = 0; p < k; ++p, a += a_step, b += ldb) {
        const __m256 b0 = Tail ? _mm256_maskload_ps(b, tail) : _mm256_loadu_ps(b);
        const __m256 b1 = V == 2 ? _mm256_loadu_ps(b + 8) : b0;
        fma_step<R, V>(0, a, b0, b1, c00, c01);
        fma_step<R, V>(1, a + a_row, b0, b1, c10, c11);
        fma_step<R, V>(2, a + 2 * a_row, b0, b1, c20, c21);
        fma_step<R, V>(3, a + 3 * a_row, b0, b1, c30, c31);
        fma_step<R, V>(4, a + 4 * a_row, b0, b1, c40, c41);
        fma_step<R, V>(5, a + 5 * a_row, b0, b1, c50, c51);
    }
    fma_finish<R, V, Tail>(0, c, tail, c00, c01);
    fma_finish<R, V, Tail>(1, c + ldc, tail, c10, c11);
    fma_finish<R, V, Tail>(2, c + 2 * ldc, tail, c20, c21);
    fma_finish<R, V, Tail>(3, c + 3 * ldc, tail, c30, c31);
    fma_finish<R, V, Tail>(4, c + 4 * ldc, tail, c40, c41);
    fma_finish<R, V, Tail>(5, c + 5 * ldc, tail, c50, c51);
}

// R rows of C, all n columns: blocks of 16, then one of 8 if n leaves it, then the rest masked.
template <std::size_t R>
KATACHI_TARGET_AVX2 inline void fma_rows(std::size_t n, std::size_t k, const float* a, std::size_t a_row,
                                         std::size_t a_step, const float* b, std::size_t ldb, float* c,
                                         std::size_t ldc, bool accumulate) {
    std::size_t j = 0;
    for (; j + fma_block_cols <= n; j += fma_block_cols)
        fma_block<R, 2>(k, a, a_row, a_step, b + j, ldb, c + j, ldc, accumulate);
    if (j + 8 <= n) {
        fma_block<R, 1>(k, a, a_row, a_step, b + j, ldb, c + j, ldc, accumulate);
        j += 8;
    }
    if (j < n)
        fma_block<R, 1, true>(k, a, a_row, a_step, b + j, ldb, c + j, ldc, accumulate, lanes_below(n - j));
}

// The last rows < R + 1 of C: fma_rows with the row count as a template argument.
template <std::size_t R>
KATACHI_TARGET_AVX2 inline void fma_rows_below(std::size_t rows, std::size_t n, std::size_t k, const float* a,
                                               std::size_t a_row, std::size_t a_step, const float* b,
                                               std::size_t ldb, float* c, std::size_t ldc, bool accumulate) {
    if (rows == R)
        fma_rows<R>(n, k, a, a_row, a_step, b, ldb, c, ldc, accumulate);
    else if constexpr (R > 1)
        fma_rows_below<R - 1>(rows, n, k, a, a_row, a_step, b, ldb, c, ldc, accumulate);
}

// fma_product in 256-bit registers only (the path of a processor without AVX-512F).
KATACHI_TARGET_AVX2 inline void fma_product_avx2(std::size_t m, std::size_t n, std::size_t k, const float* a,
                                                 std::size_t a_row, std::size_t a_step, const float* b,
                                                 std::size_t ldb, float* c, std::size_t ldc, bool accumulate) {
    std::size_t i = 0;
    for (; i + fma_block_rows <= m; i += fma_block_rows)
        fma_rows<6>(n, k, a + i * a_row, a_row, a_step, b, ldb, c + i * ldc, ldc, accumulate);
    if (i < m)
        fma_rows_below<fma_block_rows - 1>(m - i, n, k, a + i * a_row, a_row, a_step, b, ldb, c + i * ldc,
                                           ldc, accumulate);
}

// C[m, n] (+)= A(m x k) B[k, n], as described at the top; on a processor with AVX-512F, in
// 512-bit registers (fma_block_avx512.hpp), with the same sums in the same order.
KATACHI_TARGET_AVX2 inline void fma_product(std::size_t m, std::size_t n, std::size_t k, const float* a,
                                            std::size_t a_row, std::size_t a_step, const float* b,
                                            std::size_t ldb, float* c, std::size_t ldc, bool accumulate) {
    if (avx512_available()) {
        fma_product_avx512(m, n, k, a, a_row, a_step, b, ldb, c, ldc, accumulate);
        return;
    }
    fma_product_avx2(m, n, k, a, a_row, a_step, b, ldb, c, ldc, accumulate);
}

#endif

}  // namespace katachi::kernels::detail
