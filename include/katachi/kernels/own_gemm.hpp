// katachi/kernels/own_gemm.hpp: katachi's own matrix product, for builds without a BLAS
// (KATACHI_BLAS_NONE, see gemm.hpp) and for comparing with OpenBLAS in one program.
//
//   own_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
//
// C[m, n] = alpha * op(A) * op(B) + beta * C, float or double, all row-major with leading
// dimensions, the same contract as gemm.hpp's gemm_block: beta == 0 does not read C (a NaN there
// does not leak), alpha == 0 or k == 0 only scales C. It never allocates, and its stack use is
// fixed: one 64 KB packing buffer on the x86 paths; on the portable path about 1.5 KB in all
// (arm-none-eabi-g++ 12 -O2 for a Cortex-M7; up to 2 KB on x86-64 at -O3, whose vector code spills).
//
// How it runs. A product with one row or one column is a matrix-vector product, read straight from
// the operands (gemv_rows / gemv_columns). Otherwise op(B) is cut into panels of at most `depth`
// rows by `width` columns, each copied ("packed") into a buffer on the stack as slivers of
// tile_cols columns, zero-padded, so the innermost loop reads B contiguously whichever way B is
// stored. C is then swept in tiles of tile_rows x tile_cols: the micro-kernel sums one tile over
// the panel's depth in registers, reading A where it lies (a row of A contiguous, or a column of the
// transposed A: each step broadcasts tile_rows scalars of A) and each packed row of B once, then
// adds alpha times the sum into C (beta times C for the first panel). A's strip of tile_rows rows
// stays in L1 while it meets every sliver of the panel; the panel stays in L2 while every strip of
// A meets it.
//
// - Portable (any compiler, any processor, down to a microcontroller with a few KB of stack): tiles
//   of 4 x 8 floats or 4 x 4 doubles summed in a small array the compiler keeps in vector
//   registers, the panel a single 1 KB sliver of depth 32.
// - x86-64 with AVX2 and FMA at run time (simd.hpp): tiles of 6 rows by two 256-bit registers
//   (6 x 16 floats, 6 x 8 doubles) in 12 named registers, panels 256 deep in a 64 KB buffer.
// - x86-64 with AVX-512F: the same kernel on 512-bit registers (6 x 32 floats, 6 x 16 doubles),
//   panels 128 deep in the same 64 KB. On the Xeon measured (bench/bench_own_gemm.cpp) it ran
//   square products about 1.5 times as fast as the AVX2 kernel, 2 to 3 times at times; a product
//   at most one AVX2 tile wide stays on AVX2, where less of the tile is padding.
// - A transposed float B is packed through 8 x 8 transposes in AVX2 registers on both x86 paths.
//
// own_gemm picks the fastest path the processor has; own_gemm_on takes a given one (the tests check
// each on one machine) and own_gemm_portable the portable one.
//
// The pieces: own_gemm/portable.hpp (the portable path and what the paths share), own_gemm/x86.hpp
// (the AVX2 and AVX-512 kernels); here the choice of a path and the entry points.
#pragma once

#include <cstddef>
#include <katachi/kernels/own_gemm/portable.hpp>
#include <katachi/kernels/own_gemm/x86.hpp>
#include <katachi/kernels/simd.hpp>
#include <type_traits>

namespace katachi::kernels::detail {

// The paths own_gemm can take; a processor runs the portable one and those below best_gemm_path().
enum class gemm_path { portable, avx2, avx512 };

inline gemm_path best_gemm_path() {
    if (avx512_available()) return gemm_path::avx512;
    if (avx2_available()) return gemm_path::avx2;
    return gemm_path::portable;
}

// own_gemm on a given path, which this processor must run (path <= best_gemm_path()).
template <class T>
void own_gemm_on(gemm_path path, bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                 T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c,
                 std::size_t ldc) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
    if (m == 0 || n == 0) return;
    if (k == 0 || alpha == T(0)) {  // A and B are not read
        scale_rows(m, n, beta, c, ldc);
        return;
    }
#if KATACHI_AVX2_CODE
    const bool simd = path != gemm_path::portable;
#else
    (void)path;
#endif
    // One row: C^T = op(B)^T op(A)^T, B the matrix, A's row the vector (contiguous when A is not
    // transposed, or when its leading dimension is 1). One column: A the matrix, B's column the
    // vector (contiguous when B is transposed or ldb is 1), written down C with step ldc.
    if (m == 1 && (!transpose_a || lda == 1)) {
        if (transpose_b) {  // C[0, j] = sum_p B[j, p] a[p]: rows of B's storage
#if KATACHI_AVX2_CODE
            if (simd) return gemv_rows_avx2(n, k, alpha, b, ldb, a, beta, c, std::size_t{1});
#endif
            return gemv_rows_portable(n, k, alpha, b, ldb, a, beta, c, std::size_t{1});
        }
#if KATACHI_AVX2_CODE
        if (simd) return gemv_columns_avx2(k, n, alpha, b, ldb, a, beta, c);
#endif
        return gemv_columns_portable(k, n, alpha, b, ldb, a, beta, c);
    }
    if (n == 1 && (transpose_b || ldb == 1)) {
        if (!transpose_a) {  // C[i, 0] = sum_p A[i, p] b[p]
#if KATACHI_AVX2_CODE
            if (simd) return gemv_rows_avx2(m, k, alpha, a, lda, b, beta, c, ldc);
#endif
            return gemv_rows_portable(m, k, alpha, a, lda, b, beta, c, ldc);
        }
        if (ldc == 1) {  // C[i, 0] = sum_p A[p, i] b[p], C's column contiguous
#if KATACHI_AVX2_CODE
            if (simd) return gemv_columns_avx2(k, m, alpha, a, lda, b, beta, c);
#endif
            return gemv_columns_portable(k, m, alpha, a, lda, b, beta, c);
        }
    }
    const strided<T> op_a = transpose_a ? strided<T>{a, 1, lda} : strided<T>{a, lda, 1};
    const strided<T> op_b = transpose_b ? strided<T>{b, 1, ldb} : strided<T>{b, ldb, 1};
#if KATACHI_AVX2_CODE
    // A product at most one AVX2 tile wide (a convolution's weight gradient with 9 columns, a
    // classifier's 10 outputs) fills a third of an AVX-512 tile at best: it is faster on AVX2.
    if (path == gemm_path::avx512 && n > avx2_blocking<T>::tile_cols)
        return avx512_product(m, n, k, alpha, op_a, op_b, beta, c, ldc);
    if (path != gemm_path::portable) return avx2_product(m, n, k, alpha, op_a, op_b, beta, c, ldc);
#endif
    portable_product(m, n, k, alpha, op_a, op_b, beta, c, ldc);
}

// C[m, n] = alpha * op(A) * op(B) + beta * C (leading dimensions lda, ldb, ldc, row-major), on the
// fastest path this processor runs. One thread; gemm.hpp's gemm splits larger products.
template <class T>
void own_gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
              const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    own_gemm_on(best_gemm_path(), transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// The same on the portable path whatever the processor.
template <class T>
void own_gemm_portable(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
                       const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    own_gemm_on(gemm_path::portable, transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace katachi::kernels::detail
