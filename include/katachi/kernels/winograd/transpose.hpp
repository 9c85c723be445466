// katachi/kernels/winograd/transpose.hpp: winograd_transpose, the copy of one sample between its
// planes and its channels-last form (with a per-channel shift, written or added), turned in
// registers: blocks of 8 x 8 floats on AVX2, of 4 x 4 floats or 2 x 2 doubles on SSE2, the rest one
// element at a time.
#pragma once

#include <cstddef>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/simd.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace katachi::kernels::detail {

#if KATACHI_AVX2_CODE
// winograd_transpose below for float on AVX2, blocks of 8 x 8 for the rows and columns that fill
// them (rows8 x cols8); the caller does the rest.
KATACHI_TARGET_AVX2 inline void winograd_transpose_avx2(const float* a, std::size_t lda, std::size_t rows8,
                                                        std::size_t cols8, float* b, std::size_t ldb,
                                                        const float* shift, write mode) {
    for (std::size_t i0 = 0; i0 < rows8; i0 += 8)
        for (std::size_t j0 = 0; j0 < cols8; j0 += 8) {
            __m256 r[8], t[8];
            for (std::size_t k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(a + (i0 + k) * lda + j0);
            // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves swapped.
            for (std::size_t k = 0; k < 8; k += 2) {
                t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
                t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
            }
            for (std::size_t k = 0; k < 8; k += 4) {
                r[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
                r[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
                r[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
                r[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
            }
            for (std::size_t k = 0; k < 4; ++k) {
                t[k] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x20);
                t[k + 4] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x31);
            }
            for (std::size_t k = 0; k < 8; ++k) {  // t[k]: column j0 + k of the block
                float* out = b + (j0 + k) * ldb + i0;
                __m256 v = t[k];
                if (shift != nullptr) v = _mm256_add_ps(v, _mm256_set1_ps(shift[j0 + k]));
                if (mode == write::accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(out));
                _mm256_storeu_ps(out, v);
            }
        }
}
#endif

// winograd_transpose below without the AVX2 blocks.
template <class T>
void winograd_transpose_rest(const T* a, std::size_t lda, std::size_t rows, std::size_t cols, T* b,
                             std::size_t ldb, const T* shift, write mode) {
    std::size_t i0 = 0;
#if defined(__SSE2__)
    constexpr std::size_t block = 16 / sizeof(T);
    for (; i0 + block <= rows; i0 += block) {
        std::size_t j0 = 0;
        for (; j0 + block <= cols; j0 += block) {
            if constexpr (std::is_same_v<T, float>) {
                __m128 v[4] = {_mm_loadu_ps(a + i0 * lda + j0), _mm_loadu_ps(a + (i0 + 1) * lda + j0),
                               _mm_loadu_ps(a + (i0 + 2) * lda + j0), _mm_loadu_ps(a + (i0 + 3) * lda + j0)};
                _MM_TRANSPOSE4_PS(v[0], v[1], v[2], v[3]);
                for (std::size_t k = 0; k < 4; ++k) {
                    T* out = b + (j0 + k) * ldb + i0;
                    if (shift != nullptr) v[k] = _mm_add_ps(v[k], _mm_set1_ps(shift[j0 + k]));
                    if (mode == write::accumulate) v[k] = _mm_add_ps(v[k], _mm_loadu_ps(out));
                    _mm_storeu_ps(out, v[k]);
                }
            } else {
                const __m128d r0 = _mm_loadu_pd(a + i0 * lda + j0),
                              r1 = _mm_loadu_pd(a + (i0 + 1) * lda + j0);
                __m128d v[2] = {_mm_unpacklo_pd(r0, r1), _mm_unpackhi_pd(r0, r1)};
                for (std::size_t k = 0; k < 2; ++k) {
                    T* out = b + (j0 + k) * ldb + i0;
                    if (shift != nullptr) v[k] = _mm_add_pd(v[k], _mm_set1_pd(shift[j0 + k]));
                    if (mode == write::accumulate) v[k] = _mm_add_pd(v[k], _mm_loadu_pd(out));
                    _mm_storeu_pd(out, v[k]);
                }
            }
        }
        for (std::size_t i = i0; i < i0 + block; ++i)
            for (std::size_t j = j0; j < cols; ++j)
                store(b, j * ldb + i, a[i * lda + j] + (shift != nullptr ? shift[j] : T(0)), mode);
    }
#endif
    for (std::size_t i = i0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j)
            store(b, j * ldb + i, a[i * lda + j] + (shift != nullptr ? shift[j] : T(0)), mode);
}

// b[j * ldb + i] = a[i * lda + j] (+ shift[j] when shift is not null) for i < rows, j < cols, written
// or with write::accumulate added: a sample between its planes and its channels-last form. With
// SSE2 (every x86-64) blocks of 4 x 4 floats or 2 x 2 doubles are turned in registers, with AVX2
// blocks of 8 x 8 floats (winograd_transpose_avx2); one element at a time, the side of the copy that
// jumps between rows costs two to three times as long.
template <class T>
void winograd_transpose(const T* a, std::size_t lda, std::size_t rows, std::size_t cols, T* b,
                        std::size_t ldb, const T* shift, write mode) {
#if KATACHI_AVX2_CODE
    if constexpr (std::is_same_v<T, float>)
        if (avx2_available() && rows >= 8 && cols >= 8) {
            const std::size_t rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
            winograd_transpose_avx2(a, lda, rows8, cols8, b, ldb, shift, mode);
            // The columns right of the blocks, then the rows below them.
            if (cols8 < cols)
                winograd_transpose_rest(a + cols8, lda, rows8, cols - cols8, b + cols8 * ldb, ldb,
                                        shift == nullptr ? nullptr : shift + cols8, mode);
            if (rows8 < rows)
                winograd_transpose_rest(a + rows8 * lda, lda, rows - rows8, cols, b + rows8, ldb, shift,
                                        mode);
            return;
        }
#endif
    winograd_transpose_rest(a, lda, rows, cols, b, ldb, shift, mode);
}

}  // namespace katachi::kernels::detail
