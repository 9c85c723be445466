// katachi/kernels/own_gemm.hpp: katachi's own matrix product, for builds without a BLAS
// (KATACHI_BLAS_NONE, see gemm.hpp) and for comparing with OpenBLAS in one program.
//
//   own_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
//
// C[m, n] = alpha * op(A) * op(B) + beta * C, float or double, all row-major with leading
// dimensions, the same contract as gemm.hpp's gemm_block: beta == 0 does not read C (a NaN there
// does not leak), alpha == 0 or k == 0 only scales C. It never allocates, and its stack use is
// fixed: at most about 1.5 KB on the portable path, one 64 KB packing buffer on the AVX2 path.
//
// How it runs. A product with one row or one column is a matrix-vector product, read straight from
// the operands (gemv_rows / gemv_columns). Otherwise op(B) is cut into panels of at most depth rows
// by `width` columns, each copied ("packed") into a buffer on the stack as slivers of tile_cols
// columns, zero-padded, so the innermost loop reads B contiguously whichever way B is stored. C is
// then swept in tiles of tile_rows x tile_cols: the micro-kernel sums one tile over the panel's
// depth in registers, reading A where it lies (a row of A contiguous, or a column of the
// transposed A: each step broadcasts tile_rows scalars of A) and each packed row of B once, then
// adds alpha times the sum into C (beta times C for the first panel). A's strip of tile_rows rows
// stays in L1 while it meets every sliver of the panel; the panel stays in L2 while every strip of
// A meets it.
//
// - Portable (any compiler, any processor, down to a microcontroller with a few KB of stack): tiles
//   of 4 x 8 floats or 4 x 4 doubles summed in a small array the compiler keeps in vector
//   registers, the panel a single 1 KB sliver of depth 32.
// - x86-64 with AVX2 and FMA at run time (simd.hpp): tiles of 6 rows by two 256-bit vectors (6 x 16
//   floats, 6 x 8 doubles) in 12 named registers, panels of depth 256 in a 64 KB buffer
//   (256 x 64 floats, 256 x 32 doubles). AVX-512 is not used: see the note at avx2_panel_bytes.
//
// own_gemm picks AVX2 when the processor has it; own_gemm_portable always takes the portable path
// (the tests check both on one machine).
#pragma once

#include <cstddef>
#include <katachi/kernels/simd.hpp>
#include <type_traits>

#if defined(__GNUC__) || defined(__clang__)
#define KATACHI_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define KATACHI_ALWAYS_INLINE inline
#endif

namespace katachi::kernels::detail {

// How a strided operand is read: element (i, j) of the matrix as used is at data[i * row + j * col].
// A row-major matrix has (ld, 1); the same storage read transposed has (1, ld).
template <class T>
struct strided {
    const T* data;
    std::size_t row, col;
    const T* at(std::size_t i, std::size_t j) const { return data + i * row + j * col; }
};

// C[rows, cols] = beta * C, or zeros when beta is 0 (C not read).
template <class T>
void scale_rows(std::size_t rows, std::size_t cols, T beta, T* c, std::size_t ldc) {
    for (std::size_t i = 0; i < rows; ++i) {
        T* __restrict c_row = c + i * ldc;
        if (beta == T(0))
            for (std::size_t j = 0; j < cols; ++j) c_row[j] = T(0);
        else if (beta != T(1))
            for (std::size_t j = 0; j < cols; ++j) c_row[j] *= beta;
    }
}

// C[rows, cols] = alpha * tile + beta * C from a tile of sums with leading dimension ld; C is not
// read when read_c is false (beta is 0 on the first panel).
template <class T>
KATACHI_ALWAYS_INLINE void add_tile(std::size_t rows, std::size_t cols, const T* tile, std::size_t ld, T alpha,
                                    T beta, bool read_c, T* c, std::size_t ldc) {
    for (std::size_t i = 0; i < rows; ++i) {
        const T* t = tile + i * ld;
        T* c_row = c + i * ldc;
        if (read_c)
            for (std::size_t j = 0; j < cols; ++j) c_row[j] = alpha * t[j] + beta * c_row[j];
        else
            for (std::size_t j = 0; j < cols; ++j) c_row[j] = alpha * t[j];
    }
}

// Packs op(B)[depth, cols] (cols <= Width) into out[depth][Width], zeros past cols.
template <class T, std::size_t Width>
KATACHI_ALWAYS_INLINE void pack_sliver(std::size_t depth, std::size_t cols, strided<T> b, T* __restrict out) {
    if (b.col == 1) {
        for (std::size_t p = 0; p < depth; ++p, out += Width) {
            const T* __restrict src = b.data + p * b.row;
            std::size_t j = 0;
            for (; j < cols; ++j) out[j] = src[j];
            for (; j < Width; ++j) out[j] = T(0);
        }
        return;
    }
    // B stored transposed: each column of op(B) is a contiguous run of the storage.
    for (std::size_t j = 0; j < Width; ++j) {
        if (j < cols) {
            const T* __restrict src = b.data + j * b.col;
            for (std::size_t p = 0; p < depth; ++p) out[p * Width + j] = src[p * b.row];
        } else {
            for (std::size_t p = 0; p < depth; ++p) out[p * Width + j] = T(0);
        }
    }
}

// The matrix-vector products, for a product with one row or one column. `vector` is contiguous.
//   gemv_rows:    y[i * y_step] = alpha * sum_j M[i, j] x[j] + beta * y[i * y_step], i < rows
//   gemv_columns: y[j] = alpha * sum_i M[i, j] x[i] + beta * y[j], j < cols
// M is row-major [rows, cols] with leading dimension ld. Each is written once as a body the
// compiler vectorises, compiled plainly and, on x86-64, for AVX2 (simd.hpp).
template <class T>
KATACHI_ALWAYS_INLINE void gemv_rows_body(std::size_t rows, std::size_t cols, T alpha, const T* m, std::size_t ld,
                                          const T* x, T beta, T* y, std::size_t y_step) {
    constexpr std::size_t lanes = 8;
    for (std::size_t i = 0; i < rows; ++i) {
        const T* __restrict r = m + i * ld;
        T part[lanes] = {};
        std::size_t j = 0;
        for (; j + lanes <= cols; j += lanes)
            for (std::size_t l = 0; l < lanes; ++l) part[l] += r[j + l] * x[j + l];
        T sum = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
        for (; j < cols; ++j) sum += r[j] * x[j];
        T& out = y[i * y_step];
        out = beta == T(0) ? alpha * sum : alpha * sum + beta * out;
    }
}

template <class T>
KATACHI_ALWAYS_INLINE void gemv_columns_body(std::size_t rows, std::size_t cols, T alpha, const T* m,
                                             std::size_t ld, const T* x, T beta, T* __restrict y) {
    scale_rows(std::size_t{1}, cols, beta, y, cols);
    std::size_t i = 0;
    // Four rows of M per pass over y: a quarter of the loads and stores of y.
    for (; i + 4 <= rows; i += 4) {
        const T s0 = alpha * x[i], s1 = alpha * x[i + 1], s2 = alpha * x[i + 2], s3 = alpha * x[i + 3];
        const T* __restrict r0 = m + i * ld;
        const T* __restrict r1 = r0 + ld;
        const T* __restrict r2 = r1 + ld;
        const T* __restrict r3 = r2 + ld;
        for (std::size_t j = 0; j < cols; ++j) y[j] += (s0 * r0[j] + s1 * r1[j]) + (s2 * r2[j] + s3 * r3[j]);
    }
    for (; i < rows; ++i) {
        const T s = alpha * x[i];
        const T* __restrict r = m + i * ld;
        for (std::size_t j = 0; j < cols; ++j) y[j] += s * r[j];
    }
}

template <class T>
void gemv_rows_portable(std::size_t rows, std::size_t cols, T alpha, const T* m, std::size_t ld, const T* x,
                        T beta, T* y, std::size_t y_step) {
    gemv_rows_body(rows, cols, alpha, m, ld, x, beta, y, y_step);
}
template <class T>
void gemv_columns_portable(std::size_t rows, std::size_t cols, T alpha, const T* m, std::size_t ld, const T* x,
                           T beta, T* y) {
    gemv_columns_body(rows, cols, alpha, m, ld, x, beta, y);
}

// ---- The portable path ----------------------------------------------------------------------

template <class T>
struct portable_blocking {
    static constexpr std::size_t tile_rows = 4;
    static constexpr std::size_t tile_cols = sizeof(T) == 4 ? 8 : 4;
    // One sliver of B of 1 KB: the path's only buffer besides the tile.
    static constexpr std::size_t depth = 1024 / (tile_cols * sizeof(T));
};

// One tile: rows <= tile_rows rows of op(A) (the missing ones read row 0 again and are dropped)
// times a packed sliver, summed into tile[tile_rows][tile_cols].
template <class T>
KATACHI_ALWAYS_INLINE void portable_tile(std::size_t depth, std::size_t rows, strided<T> a, const T* __restrict packed,
                                         T* __restrict tile) {
    constexpr std::size_t R = portable_blocking<T>::tile_rows, C = portable_blocking<T>::tile_cols;
    std::size_t offset[R];
    for (std::size_t i = 0; i < R; ++i) offset[i] = (i < rows ? i : 0) * a.row;
    T sum[R][C] = {};
    for (std::size_t p = 0; p < depth; ++p, packed += C) {
        const T* a_p = a.data + p * a.col;
        for (std::size_t i = 0; i < R; ++i) {
            const T scale = a_p[offset[i]];
            for (std::size_t j = 0; j < C; ++j) sum[i][j] += scale * packed[j];
        }
    }
    for (std::size_t i = 0; i < R; ++i)
        for (std::size_t j = 0; j < C; ++j) tile[i * C + j] = sum[i][j];
}

// C = alpha op(A) op(B) + beta C for m, n > 1... (any m, n, k >= 1), alpha != 0.
template <class T>
void portable_product(std::size_t m, std::size_t n, std::size_t k, T alpha, strided<T> a, strided<T> b, T beta,
                      T* c, std::size_t ldc) {
    using blocking = portable_blocking<T>;
    constexpr std::size_t R = blocking::tile_rows, C = blocking::tile_cols, D = blocking::depth;
    T packed[D * C];
    T tile[R * C];
    for (std::size_t p0 = 0; p0 < k; p0 += D) {
        const std::size_t depth = k - p0 < D ? k - p0 : D;
        const bool first = p0 == 0;
        const bool read_c = !(first && beta == T(0));
        const T scale_c = first ? beta : T(1);
        for (std::size_t j0 = 0; j0 < n; j0 += C) {
            const std::size_t cols = n - j0 < C ? n - j0 : C;
            pack_sliver<T, C>(depth, cols, strided<T>{b.at(p0, j0), b.row, b.col}, packed);
            for (std::size_t i0 = 0; i0 < m; i0 += R) {
                const std::size_t rows = m - i0 < R ? m - i0 : R;
                portable_tile<T>(depth, rows, strided<T>{a.at(i0, p0), a.row, a.col}, packed, tile);
                add_tile(rows, cols, tile, C, alpha, scale_c, read_c, c + i0 * ldc + j0, ldc);
            }
        }
    }
}

// ---- The AVX2 path --------------------------------------------------------------------------

#if KATACHI_AVX2_CODE

// The packing buffer of the AVX2 path, on the stack. AVX-512 (16 floats per register) was not
// added: on the machine measured (a Xeon with AVX-512) the 256-bit kernel already runs near its
// FMA rate on LeNet's products, which are mostly bound by reading and writing their long operands.
inline constexpr std::size_t avx2_panel_bytes = 64 * 1024;

template <class T>
struct avx2_blocking {
    static constexpr std::size_t lanes = 32 / sizeof(T);
    static constexpr std::size_t tile_rows = 6;
    static constexpr std::size_t tile_cols = 2 * lanes;
    static constexpr std::size_t depth = 256;
    static constexpr std::size_t width = avx2_panel_bytes / (depth * sizeof(T));  // 64 floats, 32 doubles
    static_assert(width % tile_cols == 0);
};

// The register type for T (a specialisation: __m256's attributes would be dropped as a template
// argument of std::conditional).
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

// One row of a full tile into C: alpha * sums (+ beta * C).
template <class V, class T>
KATACHI_TARGET_AVX2 inline void avx2_add_row(T* c, V s0, V s1, V alpha, V beta, bool read_c) {
    constexpr std::size_t lanes = 32 / sizeof(T);
    if (read_c) {
        avx2_store(c, avx2_fma(alpha, s0, avx2_mul(beta, avx2_load(c))));
        avx2_store(c + lanes, avx2_fma(alpha, s1, avx2_mul(beta, avx2_load(c + lanes))));
    } else {
        avx2_store(c, avx2_mul(alpha, s0));
        avx2_store(c + lanes, avx2_mul(alpha, s1));
    }
}

// One tile of C, rows <= 6 by cols <= tile_cols: 12 accumulators named one by one (in an array
// GCC 12 keeps them on the stack), one packed row of B (two vectors) and six broadcasts of A per
// step. Missing rows read row 0 of the strip again and are dropped; a partial tile goes through a
// small array.
template <class T>
KATACHI_TARGET_AVX2 inline void avx2_tile(std::size_t depth, std::size_t rows, std::size_t cols, strided<T> a,
                                          const T* packed, T alpha, T beta, bool read_c, T* c, std::size_t ldc) {
    using V = typename avx2_register<T>::type;
    constexpr std::size_t L = avx2_blocking<T>::lanes, W = avx2_blocking<T>::tile_cols;
    const T* a0 = a.data;
    const T* a1 = a.data + (rows > 1 ? a.row : 0);
    const T* a2 = a.data + (rows > 2 ? 2 * a.row : 0);
    const T* a3 = a.data + (rows > 3 ? 3 * a.row : 0);
    const T* a4 = a.data + (rows > 4 ? 4 * a.row : 0);
    const T* a5 = a.data + (rows > 5 ? 5 * a.row : 0);
    V c00 = avx2_splat(T(0)), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
      c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    std::size_t at = 0;
    for (std::size_t p = 0; p < depth; ++p, packed += W, at += a.col) {
        const V b0 = avx2_load(packed), b1 = avx2_load(packed + L);
        V s = avx2_broadcast(a0 + at);
        c00 = avx2_fma(s, b0, c00);
        c01 = avx2_fma(s, b1, c01);
        s = avx2_broadcast(a1 + at);
        c10 = avx2_fma(s, b0, c10);
        c11 = avx2_fma(s, b1, c11);
        s = avx2_broadcast(a2 + at);
        c20 = avx2_fma(s, b0, c20);
        c21 = avx2_fma(s, b1, c21);
        s = avx2_broadcast(a3 + at);
        c30 = avx2_fma(s, b0, c30);
        c31 = avx2_fma(s, b1, c31);
        s = avx2_broadcast(a4 + at);
        c40 = avx2_fma(s, b0, c40);
        c41 = avx2_fma(s, b1, c41);
        s = avx2_broadcast(a5 + at);
        c50 = avx2_fma(s, b0, c50);
        c51 = avx2_fma(s, b1, c51);
    }
    if (rows == 6 && cols == W) {
        const V va = avx2_splat(alpha), vb = avx2_splat(beta);
        avx2_add_row(c, c00, c01, va, vb, read_c);
        avx2_add_row(c + ldc, c10, c11, va, vb, read_c);
        avx2_add_row(c + 2 * ldc, c20, c21, va, vb, read_c);
        avx2_add_row(c + 3 * ldc, c30, c31, va, vb, read_c);
        avx2_add_row(c + 4 * ldc, c40, c41, va, vb, read_c);
        avx2_add_row(c + 5 * ldc, c50, c51, va, vb, read_c);
        return;
    }
    alignas(32) T tile[6 * W];
    avx2_store(tile, c00), avx2_store(tile + L, c01);
    avx2_store(tile + W, c10), avx2_store(tile + W + L, c11);
    avx2_store(tile + 2 * W, c20), avx2_store(tile + 2 * W + L, c21);
    avx2_store(tile + 3 * W, c30), avx2_store(tile + 3 * W + L, c31);
    avx2_store(tile + 4 * W, c40), avx2_store(tile + 4 * W + L, c41);
    avx2_store(tile + 5 * W, c50), avx2_store(tile + 5 * W + L, c51);
    add_tile(rows, cols, tile, W, alpha, beta, read_c, c, ldc);
}

// The product on the AVX2 path: panels of op(B) of depth x width packed on the stack, every strip
// of 6 rows of op(A) against each panel.
template <class T>
KATACHI_TARGET_AVX2 void avx2_product(std::size_t m, std::size_t n, std::size_t k, T alpha, strided<T> a,
                                      strided<T> b, T beta, T* c, std::size_t ldc) {
    using blocking = avx2_blocking<T>;
    constexpr std::size_t R = blocking::tile_rows, W = blocking::tile_cols, D = blocking::depth,
                          N = blocking::width;
    alignas(64) T panel[D * N];
    for (std::size_t j0 = 0; j0 < n; j0 += N) {
        const std::size_t width = n - j0 < N ? n - j0 : N;
        for (std::size_t p0 = 0; p0 < k; p0 += D) {
            const std::size_t depth = k - p0 < D ? k - p0 : D;
            const bool first = p0 == 0;
            const bool read_c = !(first && beta == T(0));
            const T scale_c = first ? beta : T(1);
            for (std::size_t j = 0; j < width; j += W)
                pack_sliver<T, W>(depth, width - j < W ? width - j : W,
                                  strided<T>{b.at(p0, j0 + j), b.row, b.col}, panel + j * depth);
            for (std::size_t i0 = 0; i0 < m; i0 += R) {
                const std::size_t rows = m - i0 < R ? m - i0 : R;
                const strided<T> strip{a.at(i0, p0), a.row, a.col};
                for (std::size_t j = 0; j < width; j += W)
                    avx2_tile<T>(depth, rows, width - j < W ? width - j : W, strip, panel + j * depth, alpha,
                                 scale_c, read_c, c + i0 * ldc + j0 + j, ldc);
            }
        }
    }
}

template <class T>
KATACHI_TARGET_AVX2 void gemv_rows_avx2(std::size_t rows, std::size_t cols, T alpha, const T* m, std::size_t ld,
                                        const T* x, T beta, T* y, std::size_t y_step) {
    gemv_rows_body(rows, cols, alpha, m, ld, x, beta, y, y_step);
}
template <class T>
KATACHI_TARGET_AVX2 void gemv_columns_avx2(std::size_t rows, std::size_t cols, T alpha, const T* m,
                                           std::size_t ld, const T* x, T beta, T* y) {
    gemv_columns_body(rows, cols, alpha, m, ld, x, beta, y);
}

#endif

// ---- Entry points ---------------------------------------------------------------------------

template <class T, bool Simd>
void own_gemm_on(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
                 const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
    if (m == 0 || n == 0) return;
    if (k == 0 || alpha == T(0)) {  // A and B are not read
        scale_rows(m, n, beta, c, ldc);
        return;
    }
#if KATACHI_AVX2_CODE
    const bool avx2 = Simd && avx2_available();
#endif
    // One row: C^T = op(B)^T op(A)^T, B the matrix, A's row the vector (contiguous when A is not
    // transposed, or when its leading dimension is 1). One column: A the matrix, B's column the
    // vector (contiguous when B is transposed or ldb is 1), written down C with step ldc.
    if (m == 1 && (!transpose_a || lda == 1)) {
        if (transpose_b) {  // C[0, j] = sum_p B[j, p] a[p]: rows of B's storage
#if KATACHI_AVX2_CODE
            if (avx2) return gemv_rows_avx2(n, k, alpha, b, ldb, a, beta, c, std::size_t{1});
#endif
            return gemv_rows_portable(n, k, alpha, b, ldb, a, beta, c, std::size_t{1});
        }
#if KATACHI_AVX2_CODE
        if (avx2) return gemv_columns_avx2(k, n, alpha, b, ldb, a, beta, c);
#endif
        return gemv_columns_portable(k, n, alpha, b, ldb, a, beta, c);
    }
    if (n == 1 && (transpose_b || ldb == 1)) {
        if (!transpose_a) {  // C[i, 0] = sum_p A[i, p] b[p]
#if KATACHI_AVX2_CODE
            if (avx2) return gemv_rows_avx2(m, k, alpha, a, lda, b, beta, c, ldc);
#endif
            return gemv_rows_portable(m, k, alpha, a, lda, b, beta, c, ldc);
        }
        if (ldc == 1) {  // C[i, 0] = sum_p A[p, i] b[p], C's column contiguous
#if KATACHI_AVX2_CODE
            if (avx2) return gemv_columns_avx2(k, m, alpha, a, lda, b, beta, c);
#endif
            return gemv_columns_portable(k, m, alpha, a, lda, b, beta, c);
        }
    }
    const strided<T> op_a = transpose_a ? strided<T>{a, 1, lda} : strided<T>{a, lda, 1};
    const strided<T> op_b = transpose_b ? strided<T>{b, 1, ldb} : strided<T>{b, ldb, 1};
#if KATACHI_AVX2_CODE
    if (avx2) return avx2_product(m, n, k, alpha, op_a, op_b, beta, c, ldc);
#endif
    portable_product(m, n, k, alpha, op_a, op_b, beta, c, ldc);
}

// C[m, n] = alpha * op(A) * op(B) + beta * C (leading dimensions lda, ldb, ldc, row-major), on the
// fastest path this processor runs. One thread; gemm.hpp's gemm splits larger products.
template <class T>
void own_gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
              const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    own_gemm_on<T, true>(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// The same on the portable path whatever the processor.
template <class T>
void own_gemm_portable(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
                       const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    own_gemm_on<T, false>(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace katachi::kernels::detail
