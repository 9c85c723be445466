// katachi/kernels/gemm.hpp: the one matrix product every GEMM-shaped kernel goes through.
//
// C[M, N] = alpha * op(A) * op(B) + beta * C on row-major pointers, dispatched through
// xtensor-blas to OpenBLAS (cblas_sgemm / cblas_dgemm). No allocation: the operands are wrapped in
// xtensor adaptors that do not own their memory. A product with one row or one column (a linear
// layer on one sample, a dense layer's gradient at batch 1) goes to the matrix-vector routine
// (cblas_sgemv / cblas_dgemv) instead, which reads the matrix once where a GEMM packs it first.
#pragma once

#include <array>
#include <cstddef>
#include <xtensor-blas/xblas.hpp>
#include <xtensor/xadapt.hpp>

namespace katachi::kernels::detail {

// op(A) is M x K, op(B) is K x N, C is M x N; all row-major and packed.
template <class T>
void gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, const T* b, T beta, T* c) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        for (std::size_t i = 0; i < m * n; ++i) c[i] = beta == T(0) ? T(0) : beta * c[i];
        return;
    }
    if (m == 1 || n == 1) {
        // The vector side is contiguous whichever way it is transposed. With one row, C^T = op(B)^T
        // op(A)^T: B is the matrix, transposed unless op(B) already is. With one column, A is.
        const bool one_row = m == 1;
        const std::size_t rows = one_row ? (transpose_b ? n : k) : (transpose_a ? k : m);
        const std::size_t cols = one_row ? (transpose_b ? k : n) : (transpose_a ? m : k);
        const bool transpose = one_row ? !transpose_b : transpose_a;
        const T* matrix = one_row ? b : a;
        const T* vector = one_row ? a : b;
        const std::size_t out = one_row ? n : m;
        auto mv = xt::adapt(const_cast<T*>(matrix), rows * cols, xt::no_ownership(), std::array{rows, cols});
        auto vv = xt::adapt(const_cast<T*>(vector), k, xt::no_ownership(), std::array{k});
        auto cv = xt::adapt(c, out, xt::no_ownership(), std::array{out});
        xt::blas::gemv(mv, vv, cv, transpose, alpha, beta);
        return;
    }
    const std::array<std::size_t, 2> a_shape = transpose_a ? std::array{k, m} : std::array{m, k};
    const std::array<std::size_t, 2> b_shape = transpose_b ? std::array{n, k} : std::array{k, n};
    const std::array<std::size_t, 2> c_shape{m, n};
    auto av = xt::adapt(const_cast<T*>(a), m * k, xt::no_ownership(), a_shape);
    auto bv = xt::adapt(const_cast<T*>(b), k * n, xt::no_ownership(), b_shape);
    auto cv = xt::adapt(c, m * n, xt::no_ownership(), c_shape);
    xt::blas::gemm(av, bv, cv, transpose_a, transpose_b, alpha, beta);
}

}  // namespace katachi::kernels::detail
