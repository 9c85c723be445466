// katachi/kernels/dropout.hpp: inverted dropout, forward and backward.
//
// In training each element is kept with probability 1 - p and scaled by 1 / (1 - p), so the
// expected output equals the input: mask holds 0 or 1 / (1 - p) (rounded to the scalar type) and
// y = x * mask. Each element draws one uniform double u from the generator and is kept when
// u < 1 - p, so a seed fixes the mask. Outside training, or with p = 0, y = x and mask = 1 and the
// generator is not advanced; with p = 1 everything is dropped (y = 0, mask = 0). The backward is
// dx = dy * mask.
#pragma once

#include <katachi/error.hpp>
#include <cmath>
#include <cstddef>
#include <katachi/kernels/common.hpp>
#include <katachi/random.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace katachi::kernels {

// Throws std::invalid_argument unless 0 <= p <= 1.
template <class X, class Y, class M>
void dropout_forward(const X& x, Y&& y, M&& mask, double p, bool training, generator& gen) {
    using T = typename std::remove_cvref_t<X>::value_type;
    static_assert(std::is_floating_point_v<T>, "dropout_forward: x must hold float or double");
    static_assert(std::is_same_v<typename std::remove_cvref_t<Y>::value_type, T> &&
                      std::is_same_v<typename std::remove_cvref_t<M>::value_type, T>,
                  "dropout_forward: y and mask must hold the scalar type of x");
    constexpr const char* op = "dropout_forward";
    if (!(p >= 0.0 && p <= 1.0))
        KATACHI_THROW(std::invalid_argument, std::string(op) + ": the drop probability p must lie in [0, 1], got " +
                                    std::to_string(p));
    detail::require_same_shape(op, "y", y, "x", x);
    detail::require_same_shape(op, "mask", mask, "x", x);
    const T* xp = detail::data_of(x);
    T* yp = detail::data_of(y);
    T* mp = detail::data_of(mask);
    const std::size_t n = x.size();
    if (!training || p == 0.0) {
        for (std::size_t i = 0; i < n; ++i) {
            mp[i] = T(1);
            yp[i] = xp[i];
        }
    } else if (p == 1.0) {
        for (std::size_t i = 0; i < n; ++i) mp[i] = yp[i] = T(0);
    } else {
        const double keep = 1.0 - p;
        const T scale = static_cast<T>(1.0 / keep);
        for (std::size_t i = 0; i < n; ++i) {
            const T m = gen.uniform<double>() < keep ? scale : T(0);
            mp[i] = m;
            yp[i] = xp[i] * m;
        }
    }
}

// dx = dy * mask.
template <class M, class DY, class DX>
void dropout_backward(const M& mask, const DY& dy, DX&& dx, write mode = write::overwrite) {
    using T = typename std::remove_cvref_t<DY>::value_type;
    static_assert(std::is_floating_point_v<T>, "dropout_backward: dy must hold float or double");
    static_assert(std::is_same_v<typename std::remove_cvref_t<M>::value_type, T>,
                  "dropout_backward: mask must hold the scalar type of dy");
    constexpr const char* op = "dropout_backward";
    detail::require_same_shape(op, "mask", mask, "dy", dy);
    if constexpr (!is_none_v<DX>) {
        static_assert(std::is_same_v<typename std::remove_cvref_t<DX>::value_type, T>,
                      "dropout_backward: dx must hold the scalar type of dy");
        detail::require_same_shape(op, "dx", dx, "dy", dy);
        const T* mp = detail::data_of(mask);
        const T* gp = detail::data_of(dy);
        T* dp = detail::data_of(dx);
        const std::size_t n = dy.size();
        if (mode == write::accumulate)
            for (std::size_t i = 0; i < n; ++i) dp[i] += gp[i] * mp[i];
        else
            for (std::size_t i = 0; i < n; ++i) dp[i] = gp[i] * mp[i];
    }
}

}  // namespace katachi::kernels
