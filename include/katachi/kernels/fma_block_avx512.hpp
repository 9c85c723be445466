// katachi/kernels/fma_block_avx512.hpp: fma_block.hpp's product in 512-bit registers, for
// processors with AVX-512F (both kinds this project runs on: Intel Xeon and AMD Zen 4).
//
// The same blocking with vectors twice as wide: a block of C is up to 6 rows by 32 columns, summed
// in 12 zmm registers over the whole of k (per step of p: two loads of B's row, one broadcast of A
// per row, 12 fused multiply-adds); a row's last columns go through a masked load and store of up
// to 16 lanes. Each element of C is C's value (or zero) plus the products over p in increasing
// order, one fused multiply-add each, exactly as the 256-bit path sums it: the two paths agree bit
// for bit, so a result never depends on which of the two machines ran it.
#pragma once

#include <cstddef>
#include <katachi/kernels/simd.hpp>

namespace katachi::kernels::detail {

#if KATACHI_AVX2_CODE

// Row i of a block: its accumulators at the start (zeros, or C's row), after one step of p, and
// stored back; rows past R and the second vector when V is 1 are left alone. `first` masks the
// first vector (all 16 lanes but in a row's last, short block).
template <std::size_t R, std::size_t V>
KATACHI_TARGET_AVX512 inline void fma512_start(std::size_t i, const float* c, bool accumulate, __mmask16 first,
                                               __m512& x0, __m512& x1) {
    x0 = x1 = _mm512_setzero_ps();
    if (i >= R || !accumulate) return;
    x0 = _mm512_maskz_loadu_ps(first, c);
    if constexpr (V == 2) x1 = _mm512_loadu_ps(c + 16);
}

template <std::size_t R, std::size_t V>
KATACHI_TARGET_AVX512 inline void fma512_step(std::size_t i, const float* a, const __m512& b0, const __m512& b1,
                                              __m512& x0, __m512& x1) {
    if (i >= R) return;
    const __m512 scale = _mm512_set1_ps(*a);
    x0 = _mm512_fmadd_ps(scale, b0, x0);
    if constexpr (V == 2) x1 = _mm512_fmadd_ps(scale, b1, x1);
}

template <std::size_t R, std::size_t V>
KATACHI_TARGET_AVX512 inline void fma512_finish(std::size_t i, float* c, __mmask16 first, const __m512& x0,
                                                const __m512& x1) {
    if (i >= R) return;
    _mm512_mask_storeu_ps(c, first, x0);
    if constexpr (V == 2) _mm512_storeu_ps(c + 16, x1);
}

// One block of C: R rows, 16 * V columns (with V == 1, the lanes `first` selects). The
// accumulators are named one by one, as in fma_block: held in an array, GCC keeps them on the stack.
template <std::size_t R, std::size_t V>
KATACHI_TARGET_AVX512 inline void fma512_block(std::size_t k, const float* a, std::size_t a_row, std::size_t a_step,
                                               const float* b, std::size_t ldb, float* c, std::size_t ldc,
                                               bool accumulate, __mmask16 first) {
    static_assert(R >= 1 && R <= 6 && (V == 1 || V == 2));
    __m512 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    fma512_start<R, V>(0, c, accumulate, first, c00, c01);
    fma512_start<R, V>(1, c + ldc, accumulate, first, c10, c11);
    fma512_start<R, V>(2, c + 2 * ldc, accumulate, first, c20, c21);
    fma512_start<R, V>(3, c + 3 * ldc, accumulate, first, c30, c31);
    fma512_start<R, V>(4, c + 4 * ldc, accumulate, first, c40, c41);
    fma512_start<R, V>(5, c + 5 * ldc, accumulate, first, c50, c51);
    for (std::size_t p = 0; p < k; ++p, a += a_step, b += ldb) {
        const __m512 b0 = _mm512_maskz_loadu_ps(first, b);
        const __m512 b1 = V == 2 ? _mm512_loadu_ps(b + 16) : b0;
        fma512_step<R, V>(0, a, b0, b1, c00, c01);
        fma512_step<R, V>(1, a + a_row, b0, b1, c10, c11);
        fma512_step<R, V>(2, a + 2 * a_row, b0, b1, c20, c21);
        fma512_step<R, V>(3, a + 3 * a_row, b0, b1, c30, c31);
        fma512_step<R, V>(4, a + 4 * a_row, b0, b1, c40, c41);
        fma512_step<R, V>(5, a + 5 * a_row, b0, b1, c50, c51);
    }
    fma512_finish<R, V>(0, c, first, c00, c01);
    fma512_finish<R, V>(1, c + ldc, first, c10, c11);
    fma512_finish<R, V>(2, c + 2 * ldc, first, c20, c21);
    fma512_finish<R, V>(3, c + 3 * ldc, first, c30, c31);
    fma512_finish<R, V>(4, c + 4 * ldc, first, c40, c41);
    fma512_finish<R, V>(5, c + 5 * ldc, first, c50, c51);
}

// R rows of C, all n columns: blocks of 32, then one of 16 if n leaves it, then the rest masked.
template <std::size_t R>
KATACHI_TARGET_AVX512 inline void fma512_rows(std::size_t n, std::size_t k, const float* a, std::size_t a_row,
                                              std::size_t a_step, const float* b, std::size_t ldb, float* c,
                                              std::size_t ldc, bool accumulate) {
    std::size_t j = 0;
    for (; j + 32 <= n; j += 32) fma512_block<R, 2>(k, a, a_row, a_step, b + j, ldb, c + j, ldc, accumulate, 0xffff);
    for (; j < n; j += 16) {
        const std::size_t left = n - j < 16 ? n - j : 16;
        fma512_block<R, 1>(k, a, a_row, a_step, b + j, ldb, c + j, ldc, accumulate,
                           static_cast<__mmask16>((1u << left) - 1u));
    }
}

template <std::size_t R>
KATACHI_TARGET_AVX512 inline void fma512_rows_below(std::size_t rows, std::size_t n, std::size_t k, const float* a,
                                                    std::size_t a_row, std::size_t a_step, const float* b,
                                                    std::size_t ldb, float* c, std::size_t ldc, bool accumulate) {
    if (rows == R)
        fma512_rows<R>(n, k, a, a_row, a_step, b, ldb, c, ldc, accumulate);
    else if constexpr (R > 1)
        fma512_rows_below<R - 1>(rows, n, k, a, a_row, a_step, b, ldb, c, ldc, accumulate);
}

// C[m, n] (+)= A(m x k) B[k, n], A(i, p) = a[i * a_row + p * a_step], as fma_product.
KATACHI_TARGET_AVX512 inline void fma_product_avx512(std::size_t m, std::size_t n, std::size_t k, const float* a,
                                                     std::size_t a_row, std::size_t a_step, const float* b,
                                                     std::size_t ldb, float* c, std::size_t ldc, bool accumulate) {
    std::size_t i = 0;
    for (; i + 6 <= m; i += 6) fma512_rows<6>(n, k, a + i * a_row, a_row, a_step, b, ldb, c + i * ldc, ldc, accumulate);
    if (i < m)
        fma512_rows_below<5>(m - i, n, k, a + i * a_row, a_row, a_step, b, ldb, c + i * ldc, ldc, accumulate);
}

#endif

}  // namespace katachi::kernels::detail
