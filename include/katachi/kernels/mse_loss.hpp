// katachi/kernels/mse_loss.hpp: mean squared error of two tensors of the same shape.
//
// loss = (1 / n) sum (x - target)^2 over all n elements (NaN for empty tensors, as in PyTorch).
// The backward gives d loss / dx = 2 dloss (x - target) / n and its negation for the target; either
// gradient may be `none`.
#pragma once

#include <cstddef>
#include <limits>

#include <katachi/kernels/elementwise.hpp>

namespace katachi::kernels {

// Mean of (x - target)^2.
template <detail::real_tensor X, detail::input_of<detail::value_t<X>> TG>
detail::value_t<X> mse_loss_forward(const X& x, const TG& target) {
    using T = detail::value_t<X>;
    using A = detail::accumulator_t<T>;
    detail::require_same_shape("mse_loss_forward", "x", x, "target", target);
    const std::size_t n = x.size();
    if (n == 0) return std::numeric_limits<T>::quiet_NaN();
    const T* xp = detail::data_of(x);
    const auto* tp = detail::data_of(target);
    A sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const A d = A(xp[i]) - A(tp[i]);
        sum += d * d;
    }
    return static_cast<T>(sum / A(n));
}

// dx = 2 dloss (x - target) / n, dtarget = -dx.
template <detail::real_tensor X, detail::input_of<detail::value_t<X>> TG,
          detail::gradient_of<detail::value_t<X>> DX, detail::gradient_of<detail::value_t<X>> DT>
void mse_loss_backward(const X& x, const TG& target, detail::value_t<X> dloss, DX&& dx, DT&& dtarget,
                       write mode = write::overwrite) {
    using T = detail::value_t<X>;
    constexpr const char* op = "mse_loss_backward";
    detail::require_same_shape(op, "x", x, "target", target);
    if constexpr (!is_none_v<DX>) detail::require_same_shape(op, "x", x, "dx", dx);
    if constexpr (!is_none_v<DT>) detail::require_same_shape(op, "x", x, "dtarget", dtarget);
    const std::size_t n = x.size();
    if (n == 0) return;
    const T scale = T(2) * dloss / static_cast<T>(n);
    const T* xp = detail::data_of(x);
    const auto* tp = detail::data_of(target);
    if constexpr (!is_none_v<DX>) {
        T* g = detail::data_of(dx);
        for (std::size_t i = 0; i < n; ++i) detail::store(g, i, scale * (xp[i] - tp[i]), mode);
    }
    if constexpr (!is_none_v<DT>) {
        T* g = detail::data_of(dtarget);
        for (std::size_t i = 0; i < n; ++i) detail::store(g, i, -scale * (xp[i] - tp[i]), mode);
    }
}

}  // namespace katachi::kernels
