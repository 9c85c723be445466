// katachi/kernels/gemm.hpp: the one matrix product every GEMM-shaped kernel goes through.
//
// Without a BLAS: define KATACHI_BLAS_NONE before including any katachi header (Meson does it for
// every target with -Dblas=none) and every product runs on katachi's own GEMM (own_gemm.hpp):
// nothing here or in parallel.hpp then includes xtensor-blas, declares an OpenBLAS or CBLAS
// function, or needs OpenBLAS at link time, and this header includes no xtensor header. Every
// translation unit of a program must agree on it (gemm_block is an inline function either way).
//
// C[M, N] = alpha * op(A) * op(B) + beta * C on row-major pointers. By default it is dispatched to
// OpenBLAS (cblas_sgemm / cblas_dgemm), declared by xtensor-blas's copy of the CBLAS header (the one
// header of xtensor-blas needed here: xblas.hpp would bring all of xtensor and xio into every
// program that includes katachi, about a second of compile time). No allocation. A
// product with one row or one column (a linear layer on one sample, a dense layer's gradient at
// batch 1) goes to the matrix-vector routine (cblas_sgemv / cblas_dgemv) instead, which reads the
// matrix once where a GEMM packs it first. Under KATACHI_BLAS_NONE own_gemm takes both kinds.
//
// Small products without transposes (row-major C = A B or A^T B of at most small_product_work
// multiply-adds) do not go to OpenBLAS: its "small matrix" kernel for them allocates a scratch
// block on the heap at most shapes whose N is not a multiple of 16 (seen on AVX-512 machines with
// the tests' allocation counter), which breaks katachi's promise that a kernel given its buffers
// allocates nothing. katachi runs them itself: fma_block.hpp's register-blocked product for float
// on AVX2, a loop over rows of B that the compiler vectorises otherwise. They do so in either
// build.
//
// Threads (katachi/parallel.hpp): a product of at least parallel_gemm_work multiply-adds
// (parallel_gemv_work for a matrix-vector product), called outside a parallel part, is split into
// one block of C per thread, along the longer of M and N (A^T B along M: see gemm), so each
// thread packs the smaller operand again and the larger one only in its own part.
#pragma once

#include <cstddef>
#include <katachi/kernels/fma_block.hpp>
#include <katachi/kernels/own_gemm.hpp>
#include <katachi/parallel.hpp>
#include <type_traits>
#if !defined(KATACHI_BLAS_NONE)
#include <xflens/cxxblas/drivers/cblas.h>
#endif

namespace katachi::kernels::detail {

using katachi::detail::parallel_for;
using katachi::detail::parallel_parts;
using katachi::detail::thread_scratch;

// Below this many multiply-adds (about 20 microseconds on one core) a product stays on one thread:
// waking a worker and packing the shared operand twice would cost more than the split gains.
inline constexpr std::size_t parallel_gemm_work = std::size_t{1} << 20;
// A matrix-vector product is bound by reading its matrix (a few multiply-adds per cycle, not 32) and
// packs nothing, so it pays to split from a smaller size: each thread then reads only its part of
// the matrix, which can stay in that core's own cache from one call to the next.
inline constexpr std::size_t parallel_gemv_work = std::size_t{1} << 16;

// Products up to this many multiply-adds with B not transposed run on small_product; OpenBLAS
// sends the same ones to its small-matrix kernel (up to 100^3 multiply-adds).
inline constexpr std::size_t small_product_work = 1'000'000;

#if !defined(KATACHI_BLAS_NONE)
// The CBLAS routines for float and double, row-major.
inline CBLAS_TRANSPOSE blas_transpose(bool t) {
    return t ? CblasTrans : CblasNoTrans;
}
inline void blas_gemv(bool t, CBLAS_INT m, CBLAS_INT n, float alpha, const float* a, CBLAS_INT lda,
                      const float* x, CBLAS_INT incx, float beta, float* y, CBLAS_INT incy) {
    cblas_sgemv(CblasRowMajor, blas_transpose(t), m, n, alpha, a, lda, x, incx, beta, y, incy);
}
inline void blas_gemv(bool t, CBLAS_INT m, CBLAS_INT n, double alpha, const double* a, CBLAS_INT lda,
                      const double* x, CBLAS_INT incx, double beta, double* y, CBLAS_INT incy) {
    cblas_dgemv(CblasRowMajor, blas_transpose(t), m, n, alpha, a, lda, x, incx, beta, y, incy);
}
inline void blas_gemm(bool ta, bool tb, CBLAS_INT m, CBLAS_INT n, CBLAS_INT k, float alpha, const float* a,
                      CBLAS_INT lda, const float* b, CBLAS_INT ldb, float beta, float* c, CBLAS_INT ldc) {
    cblas_sgemm(CblasRowMajor, blas_transpose(ta), blas_transpose(tb), m, n, k, alpha, a, lda, b, ldb, beta,
                c, ldc);
}
inline void blas_gemm(bool ta, bool tb, CBLAS_INT m, CBLAS_INT n, CBLAS_INT k, double alpha, const double* a,
                      CBLAS_INT lda, const double* b, CBLAS_INT ldb, double beta, double* c, CBLAS_INT ldc) {
    cblas_dgemm(CblasRowMajor, blas_transpose(ta), blas_transpose(tb), m, n, k, alpha, a, lda, b, ldb, beta,
                c, ldc);
}
#endif

// C[m, n] = alpha * op(A) B + beta * C, row-major with leading dimensions, without the heap.
template <class T>
void small_product(bool transpose_a, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
                   std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    const std::size_t a_row = transpose_a ? 1 : lda, a_step = transpose_a ? lda : 1;
#if KATACHI_AVX2_CODE
    if constexpr (std::is_same_v<T, float>)
        if (alpha == T(1) && (beta == T(0) || beta == T(1)) && fma_block_available()) {
            fma_product(m, n, k, a, a_row, a_step, b, ldb, c, ldc, beta == T(1));
            return;
        }
#endif
    for (std::size_t i = 0; i < m; ++i) {
        T* __restrict c_row = c + i * ldc;
        if (beta == T(0))
            for (std::size_t j = 0; j < n; ++j) c_row[j] = T(0);  // C is not read: NaN there does not leak
        else if (beta != T(1))
            for (std::size_t j = 0; j < n; ++j) c_row[j] *= beta;
        for (std::size_t p = 0; p < k; ++p) {
            const T scale = alpha * a[i * a_row + p * a_step];
            const T* __restrict b_row = b + p * ldb;
            for (std::size_t j = 0; j < n; ++j) c_row[j] += scale * b_row[j];
        }
    }
}

// C[m, n] (leading dimension ldc) = alpha * op(A) * op(B) + beta * C, all row-major with leading
// dimensions; one thread.
template <class T>
void gemm_block(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
                const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
#if defined(KATACHI_BLAS_NONE)
    if (m != 1 && n != 1 && !transpose_b && m * n * k <= small_product_work) {
        small_product(transpose_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    own_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
    using index = CBLAS_INT;
    if (m == 1 || n == 1) {
        // The vector side is contiguous whichever way it is transposed (its stride is 1 when it is
        // a row of A or a column of B stored transposed, else its leading dimension). With one row,
        // C^T = op(B)^T op(A)^T: B is the matrix. With one column, A is.
        const bool one_row = m == 1;
        const T* matrix = one_row ? b : a;
        const std::size_t ld = one_row ? ldb : lda;
        // The matrix as stored: rows x cols, row-major.
        const std::size_t rows = one_row ? (transpose_b ? n : k) : (transpose_a ? k : m);
        const std::size_t cols = one_row ? (transpose_b ? k : n) : (transpose_a ? m : k);
        const bool transpose = one_row ? !transpose_b : transpose_a;
        const T* vector = one_row ? a : b;
        const std::size_t vector_step = one_row ? (transpose_a ? lda : 1) : (transpose_b ? 1 : ldb);
        const std::size_t out_step = one_row ? 1 : ldc;
        blas_gemv(transpose, static_cast<index>(rows), static_cast<index>(cols), alpha, matrix,
                  static_cast<index>(ld), vector, static_cast<index>(vector_step), beta, c,
                  static_cast<index>(out_step));
        return;
    }
    if (!transpose_b && m * n * k <= small_product_work) {
        small_product(transpose_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    blas_gemm(transpose_a, transpose_b, static_cast<index>(m), static_cast<index>(n), static_cast<index>(k),
              alpha, a, static_cast<index>(lda), b, static_cast<index>(ldb), beta, c,
              static_cast<index>(ldc));
#endif
}

// op(A) is M x K, op(B) is K x N, C is M x N; all row-major and packed.
template <class T>
void gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, const T* b, T beta, T* c) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        for (std::size_t i = 0; i < m * n; ++i) c[i] = beta == T(0) ? T(0) : beta * c[i];
        return;
    }
    const std::size_t lda = transpose_a ? m : k, ldb = transpose_b ? k : n;
    // Along the longer side, except in the weight-gradient form C = A^T B (A the output gradient,
    // whose rows are the batch), which splits along M while it has rows for two blocks: measured at
    // two threads on an MLP's first dW (256 x 784, K 64) 100 us split along M against 153 us along
    // N; on 128 x 256 and 128 x 3136 the two were within 5%.
    const bool split_rows = (transpose_a && !transpose_b && m >= 32) || m >= n;
    const std::size_t along = split_rows ? m : n;
    // Each part keeps at least 16 rows or columns, the width of a GEMM micro-kernel's block.
    const std::size_t threshold = m == 1 || n == 1 ? parallel_gemv_work : parallel_gemm_work;
    const unsigned parts =
        m * n * k < threshold ? 1u : katachi::detail::product_parts(along >= 32 ? along / 16 : 1);
    parallel_for(along, parts, [&](std::size_t begin, std::size_t end, unsigned) {
        const std::size_t len = end - begin;
        if (split_rows) {
            const T* a_part = transpose_a ? a + begin : a + begin * lda;
            gemm_block(transpose_a, transpose_b, len, n, k, alpha, a_part, lda, b, ldb, beta, c + begin * n,
                       n);
        } else {
            const T* b_part = transpose_b ? b + begin * ldb : b + begin;
            gemm_block(transpose_a, transpose_b, m, len, k, alpha, a, lda, b_part, ldb, beta, c + begin, n);
        }
    });
}

}  // namespace katachi::kernels::detail
