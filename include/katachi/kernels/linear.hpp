// katachi/kernels/linear.hpp: the fully connected layer, y = x w^T + b.
//
// x[N, in], w[out, in] (PyTorch's layout), b[out] or none, y[N, out]. One GEMM each way: the
// forward writes the bias into y first and lets the GEMM add onto it, so the bias costs no extra
// pass; the backward is dx = dy w, dw = dy^T x and db = the column sums of dy.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/gemm.hpp"

namespace katachi::kernels {

namespace detail {

template <class E>
using linear_scalar_t = std::remove_cv_t<typename std::remove_cvref_t<E>::value_type>;

// True when E is `none` or holds elements of type T.
template <class T, class E>
constexpr bool linear_scalar_fits() {
    if constexpr (is_none_v<E>)
        return true;
    else
        return std::is_same_v<linear_scalar_t<E>, T>;
}

// True when E is `none` or a tensor whose elements can be written (an output, not a const input).
template <class E>
constexpr bool linear_writable() {
    if constexpr (is_none_v<E>)
        return true;
    else
        return !std::is_const_v<std::remove_pointer_t<decltype(data_of(std::declval<E&>()))>>;
}

}  // namespace detail

template <tensor_like X, tensor_like W, class B, tensor_like Y>
void linear_forward(const X& x, const W& w, const B& b, Y&& y) {
    using T = detail::linear_scalar_t<X>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "linear: the scalar must be float or double");
    static_assert(detail::linear_scalar_fits<T, W>() && detail::linear_scalar_fits<T, B>() &&
                      detail::linear_scalar_fits<T, Y>(),
                  "linear: x, w, b and y must hold the same scalar type");
    static_assert(detail::linear_writable<Y>(), "linear: y must be writable (not const)");
    detail::require_rank("linear", "x", x, 2);
    detail::require_rank("linear", "w", w, 2);
    const std::size_t batch = x.shape()[0], in = x.shape()[1], out = w.shape()[0];
    detail::require_shape("linear", "w", w, {out, in});
    detail::require_shape("linear", "y", y, {batch, out});
    T* yp = detail::data_of(y);
    T beta = T(0);
    if constexpr (!is_none_v<B>) {
        detail::require_shape("linear", "b", b, {out});
        const T* bp = detail::data_of(b);
        for (std::size_t i = 0; i < batch; ++i) std::copy(bp, bp + out, yp + i * out);
        beta = T(1);
    }
    detail::gemm(false, true, batch, out, in, T(1), detail::data_of(x), detail::data_of(w), beta, yp);
}

// Gradients of linear_forward for the cotangent dy[N, out]. Each of dx, dw, db may be `none`.
template <tensor_like X, tensor_like W, tensor_like DY, class DX, class DW, class DB>
void linear_backward(const X& x, const W& w, const DY& dy, DX&& dx, DW&& dw, DB&& db,
                     write mode = write::overwrite) {
    using T = detail::linear_scalar_t<X>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "linear: the scalar must be float or double");
    static_assert(detail::linear_scalar_fits<T, W>() && detail::linear_scalar_fits<T, DY>() &&
                      detail::linear_scalar_fits<T, DX>() && detail::linear_scalar_fits<T, DW>() &&
                      detail::linear_scalar_fits<T, DB>(),
                  "linear: x, w, dy and the gradients must hold the same scalar type");
    static_assert(
        detail::linear_writable<DX>() && detail::linear_writable<DW>() && detail::linear_writable<DB>(),
        "linear: dx, dw and db must each be writable (not const) or none");
    detail::require_rank("linear", "x", x, 2);
    detail::require_rank("linear", "w", w, 2);
    const std::size_t batch = x.shape()[0], in = x.shape()[1], out = w.shape()[0];
    detail::require_shape("linear", "w", w, {out, in});
    detail::require_shape("linear", "dy", dy, {batch, out});
    if constexpr (!is_none_v<DX>) detail::require_shape("linear", "dx", dx, {batch, in});
    if constexpr (!is_none_v<DW>) detail::require_shape("linear", "dw", dw, {out, in});
    if constexpr (!is_none_v<DB>) detail::require_shape("linear", "db", db, {out});

    const T beta = mode == write::accumulate ? T(1) : T(0);
    const T* dyp = detail::data_of(dy);
    if constexpr (!is_none_v<DX>)
        detail::gemm(false, false, batch, in, out, T(1), dyp, detail::data_of(w), beta, detail::data_of(dx));
    if constexpr (!is_none_v<DW>)
        detail::gemm(true, false, out, in, batch, T(1), dyp, detail::data_of(x), beta, detail::data_of(dw));
    if constexpr (!is_none_v<DB>) {
        T* dbp = detail::data_of(db);
        if (mode == write::overwrite) std::fill(dbp, dbp + out, T(0));
        // Rows are added whole, so the inner loop runs along contiguous memory and vectorizes.
        for (std::size_t i = 0; i < batch; ++i) {
            const T* row = dyp + i * out;
            for (std::size_t j = 0; j < out; ++j) dbp[j] += row[j];
        }
    }
}

}  // namespace katachi::kernels
