// katachi/kernels/own_gemm/x86.hpp: the x86-64 paths of katachi's own matrix product: the blocking
// of the AVX2 and AVX-512 kernels, their registers and intrinsics, the packing of a transposed float
// B through 8 x 8 transposes, the kernels written once for both instruction sets
// (avx2_product, avx512_product) and the matrix-vector products on AVX2. Empty without
// KATACHI_AVX2_CODE (simd.hpp).
#pragma once

#include <cstddef>
#include <katachi/kernels/own_gemm/portable.hpp>
#include <katachi/kernels/simd.hpp>
#include <type_traits>

namespace katachi::kernels::detail {

// ---- The x86-64 paths: AVX2 and AVX-512 --------------------------------------------------

#if KATACHI_AVX2_CODE

// The packing buffer of the x86 paths, on the stack.
inline constexpr std::size_t simd_panel_bytes = 64 * 1024;

// Tiles of 6 rows by two registers of Bytes bytes, panels of Depth rows as wide as the buffer takes.
template <class T, std::size_t Bytes, std::size_t Depth>
struct simd_blocking {
    static constexpr std::size_t lanes = Bytes / sizeof(T);
    static constexpr std::size_t tile_rows = 6;
    static constexpr std::size_t tile_cols = 2 * lanes;
    static constexpr std::size_t depth = Depth;
    static constexpr std::size_t width = simd_panel_bytes / (depth * sizeof(T));
    static_assert(width % tile_cols == 0);
};
// AVX2: 6 x 16 floats (6 x 8 doubles), panels 256 deep, 64 floats (32 doubles) wide.
template <class T>
using avx2_blocking = simd_blocking<T, 32, 256>;
// AVX-512: 6 x 32 floats (6 x 16 doubles), panels 128 deep, 128 floats (64 doubles) wide.
template <class T>
using avx512_blocking = simd_blocking<T, 64, 128>;

// The register types for T (specialisations: __m256's attributes would be dropped as a template
// argument of std::conditional), and each operation the kernels use, by instruction set.
template <class T>
struct avx2_register;
template <>
struct avx2_register<float> {
    using type = __m256;
};
template <>
struct avx2_register<double> {
    using type = __m256d;
};
template <class T>
struct avx512_register;
template <>
struct avx512_register<float> {
    using type = __m512;
};
template <>
struct avx512_register<double> {
    using type = __m512d;
};

KATACHI_TARGET_AVX2 inline __m256 avx2_load(const float* p) { return _mm256_loadu_ps(p); }
KATACHI_TARGET_AVX2 inline __m256d avx2_load(const double* p) { return _mm256_loadu_pd(p); }
KATACHI_TARGET_AVX2 inline void avx2_store(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
KATACHI_TARGET_AVX2 inline void avx2_store(double* p, __m256d v) { _mm256_storeu_pd(p, v); }
KATACHI_TARGET_AVX2 inline __m256 avx2_broadcast(const float* p) { return _mm256_broadcast_ss(p); }
KATACHI_TARGET_AVX2 inline __m256d avx2_broadcast(const double* p) { return _mm256_broadcast_sd(p); }
KATACHI_TARGET_AVX2 inline __m256 avx2_fma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
KATACHI_TARGET_AVX2 inline __m256d avx2_fma(__m256d a, __m256d b, __m256d c) { return _mm256_fmadd_pd(a, b, c); }
KATACHI_TARGET_AVX2 inline __m256 avx2_mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
KATACHI_TARGET_AVX2 inline __m256d avx2_mul(__m256d a, __m256d b) { return _mm256_mul_pd(a, b); }
KATACHI_TARGET_AVX2 inline __m256 avx2_splat(float x) { return _mm256_set1_ps(x); }
KATACHI_TARGET_AVX2 inline __m256d avx2_splat(double x) { return _mm256_set1_pd(x); }

KATACHI_TARGET_AVX512 inline __m512 avx512_load(const float* p) { return _mm512_loadu_ps(p); }
KATACHI_TARGET_AVX512 inline __m512d avx512_load(const double* p) { return _mm512_loadu_pd(p); }
KATACHI_TARGET_AVX512 inline void avx512_store(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
KATACHI_TARGET_AVX512 inline void avx512_store(double* p, __m512d v) { _mm512_storeu_pd(p, v); }
KATACHI_TARGET_AVX512 inline __m512 avx512_broadcast(const float* p) { return _mm512_set1_ps(*p); }
KATACHI_TARGET_AVX512 inline __m512d avx512_broadcast(const double* p) { return _mm512_set1_pd(*p); }
KATACHI_TARGET_AVX512 inline __m512 avx512_fma(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
KATACHI_TARGET_AVX512 inline __m512d avx512_fma(__m512d a, __m512d b, __m512d c) {
    return _mm512_fmadd_pd(a, b, c);
}
KATACHI_TARGET_AVX512 inline __m512 avx512_mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
KATACHI_TARGET_AVX512 inline __m512d avx512_mul(__m512d a, __m512d b) { return _mm512_mul_pd(a, b); }
KATACHI_TARGET_AVX512 inline __m512 avx512_splat(float x) { return _mm512_set1_ps(x); }
KATACHI_TARGET_AVX512 inline __m512d avx512_splat(double x) { return _mm512_set1_pd(x); }

// Packs a sliver of op(B) for float when B is stored transposed (b.row 1: column j of op(B) is a
// contiguous row of the storage), like pack_sliver: eight columns by eight steps of p at a time,
// loaded as eight rows of the storage and transposed in registers, so every load and store moves
// a whole register (element by element the strided reads cost more than the product for a few
// dozen rows of A). The remaining steps and columns go element by element.
template <std::size_t Width>
KATACHI_TARGET_AVX2 inline void avx2_pack_transposed(std::size_t depth, std::size_t cols, strided<float> b,
                                                     float* __restrict out) {
    const std::size_t ld = b.col, cols8 = cols / 8 * 8, depth8 = depth / 8 * 8;
    for (std::size_t j = 0; j < cols8; j += 8) {
        const float* src = b.data + j * ld;
        float* dst = out + j;
        std::size_t p = 0;
        for (; p < depth8; p += 8) {
            const __m256 r0 = _mm256_loadu_ps(src + p), r1 = _mm256_loadu_ps(src + ld + p),
                         r2 = _mm256_loadu_ps(src + 2 * ld + p), r3 = _mm256_loadu_ps(src + 3 * ld + p),
                         r4 = _mm256_loadu_ps(src + 4 * ld + p), r5 = _mm256_loadu_ps(src + 5 * ld + p),
                         r6 = _mm256_loadu_ps(src + 6 * ld + p), r7 = _mm256_loadu_ps(src + 7 * ld + p);
            // Pairs of rows interleaved, then quadruples, then the two halves swapped into place:
            // register q ends up holding element p + q of each of the eight rows.
            const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
                         t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
                         t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                         t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                         s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                         s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                         s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float* d = dst + p * Width;
            _mm256_storeu_ps(d, _mm256_permute2f128_ps(s0, s4, 0x20));
            _mm256_storeu_ps(d + Width, _mm256_permute2f128_ps(s1, s5, 0x20));
            _mm256_storeu_ps(d + 2 * Width, _mm256_permute2f128_ps(s2, s6, 0x20));
            _mm256_storeu_ps(d + 3 * Width, _mm256_permute2f128_ps(s3, s7, 0x20));
            _mm256_storeu_ps(d + 4 * Width, _mm256_permute2f128_ps(s0, s4, 0x31));
            _mm256_storeu_ps(d + 5 * Width, _mm256_permute2f128_ps(s1, s5, 0x31));
            _mm256_storeu_ps(d + 6 * Width, _mm256_permute2f128_ps(s2, s6, 0x31));
            _mm256_storeu_ps(d + 7 * Width, _mm256_permute2f128_ps(s3, s7, 0x31));
        }
        for (; p < depth; ++p)
            for (std::size_t q = 0; q < 8; ++q) dst[p * Width + q] = src[q * ld + p];
    }
    for (std::size_t j = cols8; j < Width; ++j)
        for (std::size_t p = 0; p < depth; ++p) out[p * Width + j] = j < cols ? b.data[j * ld + p] : 0.0f;
}

// A sliver of op(B) for the x86 kernels: float stored transposed through registers, else as
// pack_sliver.
template <class T, std::size_t Width>
KATACHI_TARGET_AVX2 inline void simd_pack_sliver(std::size_t depth, std::size_t cols, strided<T> b, T* out) {
    if constexpr (std::is_same_v<T, float>)
        if (b.row == 1 && b.col != 1) return avx2_pack_transposed<Width>(depth, cols, b, out);
    pack_sliver<T, Width>(depth, cols, b, out);
}

// The kernels, written once for both instruction sets (ISA avx2 or avx512, TARGET its attribute):
//
// ISA_add_row: one row of a full tile into C, alpha * sums (+ beta * C).
//
// ISA_tile: one tile of C, rows <= 6 by cols <= tile_cols: 12 accumulators named one by one (in an
// array GCC 12 keeps them on the stack), one packed row of B (two registers) and six broadcasts of
// A per step. Missing rows read row 0 of the strip again and are dropped; a partial tile goes
// through a small array.
//
// ISA_product: panels of op(B) packed on the stack (depth x width), every strip of 6 rows of op(A)
// against each panel.
#define KATACHI_OWN_GEMM_SIMD(ISA, TARGET)                                                                   \
    template <class V, class T>                                                                              \
    TARGET inline void ISA##_add_row(T* c, V s0, V s1, V alpha, V beta, bool read_c) {                       \
        constexpr std::size_t lanes = sizeof(V) / sizeof(T);                                                 \
        if (read_c) {                                                                                        \
            ISA##_store(c, ISA##_fma(alpha, s0, ISA##_mul(beta, ISA##_load(c))));                            \
            ISA##_store(c + lanes, ISA##_fma(alpha, s1, ISA##_mul(beta, ISA##_load(c + lanes))));            \
        } else {                                                                                             \
            ISA##_store(c, ISA##_mul(alpha, s0));                                                            \
            ISA##_store(c + lanes, ISA##_mul(alpha, s1));                                                    \
        }                                                                                                    \
    }                                                                                                        \
                                                                                                             \
    template <class T>                                                                                       \
    TARGET inline void ISA##_tile(std::size_t depth, std::size_t rows, std::size_t cols, strided<T> a,       \
                                  const T* packed, T alpha, T beta, bool read_c, T* c, std::size_t ldc) {    \
        using V = typename ISA##_register<T>::type;                                                          \
        constexpr std::size_t L = ISA##_blocking<T>::lanes, W = ISA##_blocking<T>::tile_cols;                \
        const T* a0 = a.data;                                                                                \
        const T* a1 = a.data + (rows > 1 ? a.row : 0);                                                       \
        const T* a2 = a.data + (rows > 2 ? 2 * a.row : 0);                                                   \
        const T* a3 = a.data + (rows > 3 ? 3 * a.row : 0);                                                   \
        const T* a4 = a.data + (rows > 4 ? 4 * a.row : 0);                                                   \
        const T* a5 = a.data + (rows > 5 ? 5 * a.row : 0);                                                   \
        V c00 = ISA##_splat(T(0)), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,         \
          c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;                                             \
        std::size_t at = 0;                                                                                  \
        for (std::size_t p = 0; p < depth; ++p, packed += W, at += a.col) {                                  \
            const V b0 = ISA##_load(packed), b1 = ISA##_load(packed + L);                                    \
            V s = ISA##_broadcast(a0 + at);                                                                  \
            c00 = ISA##_fma(s, b0, c00);                                                                     \
            c01 = ISA##_fma(s, b1, c01);                                                                     \
            s = ISA##_broadcast(a1 + at);                                                                    \
            c10 = ISA##_fma(s, b0, c10);                                                                     \
            c11 = ISA##_fma(s, b1, c11);                                                                     \
            s = ISA##_broadcast(a2 + at);                                                                    \
            c20 = ISA##_fma(s, b0, c20);                                                                     \
            c21 = ISA##_fma(s, b1, c21);                                                                     \
            s = ISA##_broadcast(a3 + at);                                                                    \
            c30 = ISA##_fma(s, b0, c30);                                                                     \
            c31 = ISA##_fma(s, b1, c31);                                                                     \
            s = ISA##_broadcast(a4 + at);                                                                    \
            c40 = ISA##_fma(s, b0, c40);                                                                     \
            c41 = ISA##_fma(s, b1, c41);                                                                     \
            s = ISA##_broadcast(a5 + at);                                                                    \
            c50 = ISA##_fma(s, b0, c50);                                                                     \
            c51 = ISA##_fma(s, b1, c51);                                                                     \
        }                                                                                                    \
        if (rows == 6 && cols == W) {                                                                        \
            const V va = ISA##_splat(alpha), vb = ISA##_splat(beta);                                         \
            ISA##_add_row(c, c00, c01, va, vb, read_c);                                                      \
            ISA##_add_row(c + ldc, c10, c11, va, vb, read_c);                                                \
            ISA##_add_row(c + 2 * ldc, c20, c21, va, vb, read_c);                                            \
            ISA##_add_row(c + 3 * ldc, c30, c31, va, vb, read_c);                                            \
            ISA##_add_row(c + 4 * ldc, c40, c41, va, vb, read_c);                                            \
            ISA##_add_row(c + 5 * ldc, c50, c51, va, vb, read_c);                                            \
            return;                                                                                          \
        }                                                                                                    \
        alignas(64) T tile[6 * W];                                                                           \
        ISA##_store(tile, c00);                                                                              \
        ISA##_store(tile + L, c01);                                                                          \
        ISA##_store(tile + W, c10);                                                                          \
        ISA##_store(tile + W + L, c11);                                                                      \
        ISA##_store(tile + 2 * W, c20);                                                                      \
        ISA##_store(tile + 2 * W + L, c21);                                                                  \
        ISA##_store(tile + 3 * W, c30);                                                                      \
        ISA##_store(tile + 3 * W + L, c31);                                                                  \
        ISA##_store(tile + 4 * W, c40);                                                                      \
        ISA##_store(tile + 4 * W + L, c41);                                                                  \
        ISA##_store(tile + 5 * W, c50);                                                                      \
        ISA##_store(tile + 5 * W + L, c51);                                                                  \
        add_tile(rows, cols, tile, W, alpha, beta, read_c, c, ldc);                                          \
    }                                                                                                        \
                                                                                                             \
    template <class T>                                                                                       \
    TARGET void ISA##_product(std::size_t m, std::size_t n, std::size_t k, T alpha, strided<T> a,            \
                              strided<T> b, T beta, T* c, std::size_t ldc) {                                 \
        using blocking = ISA##_blocking<T>;                                                                  \
        constexpr std::size_t R = blocking::tile_rows, W = blocking::tile_cols, D = blocking::depth,         \
                              N = blocking::width;                                                           \
        alignas(64) T panel[D * N];                                                                          \
        for (std::size_t j0 = 0; j0 < n; j0 += N) {                                                          \
            const std::size_t width = n - j0 < N ? n - j0 : N;                                               \
            for (std::size_t p0 = 0; p0 < k; p0 += D) {                                                      \
                const std::size_t depth = k - p0 < D ? k - p0 : D;                                           \
                const bool first = p0 == 0;                                                                  \
                const bool read_c = !(first && beta == T(0));                                                \
                const T scale_c = first ? beta : T(1);                                                       \
                for (std::size_t j = 0; j < width; j += W)                                                   \
                    simd_pack_sliver<T, W>(depth, width - j < W ? width - j : W,                             \
                                      strided<T>{b.at(p0, j0 + j), b.row, b.col}, panel + j * depth);        \
                for (std::size_t i0 = 0; i0 < m; i0 += R) {                                                  \
                    const std::size_t rows = m - i0 < R ? m - i0 : R;                                        \
                    const strided<T> strip{a.at(i0, p0), a.row, a.col};                                      \
                    for (std::size_t j = 0; j < width; j += W)                                               \
                        ISA##_tile<T>(depth, rows, width - j < W ? width - j : W, strip, panel + j * depth,  \
                                      alpha, scale_c, read_c, c + i0 * ldc + j0 + j, ldc);                   \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
    }

KATACHI_OWN_GEMM_SIMD(avx2, KATACHI_TARGET_AVX2)
KATACHI_OWN_GEMM_SIMD(avx512, KATACHI_TARGET_AVX512)
#undef KATACHI_OWN_GEMM_SIMD

// The matrix-vector products on AVX2 (also taken on AVX-512 processors: they are bound by reading
// the matrix).
KATACHI_TARGET_AVX2 inline __m256 avx2_add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
KATACHI_TARGET_AVX2 inline __m256d avx2_add(__m256d a, __m256d b) { return _mm256_add_pd(a, b); }

// The sum of a register's lanes.
template <class T, class V>
KATACHI_TARGET_AVX2 inline T avx2_lane_sum(V v) {
    constexpr std::size_t lanes = sizeof(V) / sizeof(T);
    alignas(32) T part[lanes];
    avx2_store(part, v);
    T sum = T(0);
    for (std::size_t l = 0; l < lanes; ++l) sum += part[l];
    return sum;
}

// gemv_rows with fused multiply-adds: four rows of M at a time, each summed in two registers, x
// loaded once for the four (a linear layer on one sample). The last rows go through the plain body.
template <class T>
KATACHI_TARGET_AVX2 void gemv_rows_avx2(std::size_t rows, std::size_t cols, T alpha, const T* m, std::size_t ld,
                                        const T* x, T beta, T* y, std::size_t y_step) {
    using V = typename avx2_register<T>::type;
    constexpr std::size_t L = 32 / sizeof(T);
    std::size_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const T* r0 = m + i * ld;
        const T* r1 = r0 + ld;
        const T* r2 = r1 + ld;
        const T* r3 = r2 + ld;
        V s00 = avx2_splat(T(0)), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00, s31 = s00;
        std::size_t j = 0;
        for (; j + 2 * L <= cols; j += 2 * L) {
            const V x0 = avx2_load(x + j), x1 = avx2_load(x + j + L);
            s00 = avx2_fma(avx2_load(r0 + j), x0, s00);
            s01 = avx2_fma(avx2_load(r0 + j + L), x1, s01);
            s10 = avx2_fma(avx2_load(r1 + j), x0, s10);
            s11 = avx2_fma(avx2_load(r1 + j + L), x1, s11);
            s20 = avx2_fma(avx2_load(r2 + j), x0, s20);
            s21 = avx2_fma(avx2_load(r2 + j + L), x1, s21);
            s30 = avx2_fma(avx2_load(r3 + j), x0, s30);
            s31 = avx2_fma(avx2_load(r3 + j + L), x1, s31);
        }
        T sum[4] = {avx2_lane_sum<T>(avx2_add(s00, s01)), avx2_lane_sum<T>(avx2_add(s10, s11)),
                    avx2_lane_sum<T>(avx2_add(s20, s21)), avx2_lane_sum<T>(avx2_add(s30, s31))};
        for (; j < cols; ++j) {
            sum[0] += r0[j] * x[j];
            sum[1] += r1[j] * x[j];
            sum[2] += r2[j] * x[j];
            sum[3] += r3[j] * x[j];
        }
        for (std::size_t q = 0; q < 4; ++q) {
            T& out = y[(i + q) * y_step];
            out = beta == T(0) ? alpha * sum[q] : alpha * sum[q] + beta * out;
        }
    }
    if (i < rows) gemv_rows_body(rows - i, cols, alpha, m + i * ld, ld, x, beta, y + i * y_step, y_step);
}
template <class T>
KATACHI_TARGET_AVX2 void gemv_columns_avx2(std::size_t rows, std::size_t cols, T alpha, const T* m,
                                           std::size_t ld, const T* x, T beta, T* y) {
    gemv_columns_body(rows, cols, alpha, m, ld, x, beta, y);
}

#endif

}  // namespace katachi::kernels::detail
