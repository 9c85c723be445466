// katachi/kernels/add.hpp: elementwise sum of two tensors of identical shape (residual connections).
//
// y = a + b; the backward hands dy to both inputs: da = dy, db = dy (either may be none). No
// broadcasting: the shapes must be equal. y may be a or b itself; in accumulate mode da and db
// must not share memory with dy.
#pragma once

#include <cstddef>
#include <katachi/kernels/common.hpp>
#include <type_traits>

namespace katachi::kernels {

template <class A, class B, class Y>
void add_forward(const A& a, const B& b, Y&& y) {
    using T = typename std::remove_cvref_t<A>::value_type;
    static_assert(std::is_floating_point_v<T>, "add_forward: a must hold float or double");
    static_assert(std::is_same_v<typename std::remove_cvref_t<B>::value_type, T> &&
                      std::is_same_v<typename std::remove_cvref_t<Y>::value_type, T>,
                  "add_forward: a, b and y must hold the same scalar type");
    constexpr const char* op = "add_forward";
    detail::require_same_shape(op, "a", a, "b", b);
    detail::require_same_shape(op, "y", y, "a", a);
    const T* ap = detail::data_of(a);
    const T* bp = detail::data_of(b);
    T* yp = detail::data_of(y);
    const std::size_t n = a.size();
    for (std::size_t i = 0; i < n; ++i) yp[i] = ap[i] + bp[i];
}

namespace detail {

template <class T, class DY, class G>
void pass_gradient(const char* op, const char* name, const DY& dy, G&& g, write mode) {
    if constexpr (!is_none_v<G>) {
        static_assert(std::is_same_v<typename std::remove_cvref_t<G>::value_type, T>,
                      "add_backward: gradients must hold the scalar type of dy");
        require_same_shape(op, name, g, "dy", dy);
        const T* src = data_of(dy);
        T* dst = data_of(g);
        const std::size_t n = dy.size();
        if (mode == write::accumulate)
            for (std::size_t i = 0; i < n; ++i) dst[i] += src[i];
        else if (dst != src)
            for (std::size_t i = 0; i < n; ++i) dst[i] = src[i];
    }
}

}  // namespace detail

template <class DY, class DA, class DB>
void add_backward(const DY& dy, DA&& da, DB&& db, write mode = write::overwrite) {
    using T = typename std::remove_cvref_t<DY>::value_type;
    static_assert(std::is_floating_point_v<T>, "add_backward: dy must hold float or double");
    detail::require_rank("add_backward", "dy", dy, dy.dimension());
    detail::pass_gradient<T>("add_backward", "da", dy, da, mode);
    detail::pass_gradient<T>("add_backward", "db", dy, db, mode);
}

}  // namespace katachi::kernels
