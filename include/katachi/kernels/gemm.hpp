// katachi/kernels/gemm.hpp: the one matrix product every GEMM-shaped kernel goes through.
//
// C[M, N] = alpha * op(A) * op(B) + beta * C on row-major pointers, dispatched through
// xtensor-blas to OpenBLAS (cblas_sgemm / cblas_dgemm). No allocation: the operands are wrapped in
// xtensor adaptors that do not own their memory.
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
    const std::array<std::size_t, 2> a_shape = transpose_a ? std::array{k, m} : std::array{m, k};
    const std::array<std::size_t, 2> b_shape = transpose_b ? std::array{n, k} : std::array{k, n};
    const std::array<std::size_t, 2> c_shape{m, n};
    auto av = xt::adapt(const_cast<T*>(a), m * k, xt::no_ownership(), a_shape);
    auto bv = xt::adapt(const_cast<T*>(b), k * n, xt::no_ownership(), b_shape);
    auto cv = xt::adapt(c, m * n, xt::no_ownership(), c_shape);
    xt::blas::gemm(av, bv, cv, transpose_a, transpose_b, alpha, beta);
}

}  // namespace katachi::kernels::detail
