// katachi/kernels/nll_loss.hpp: negative log-likelihood of class targets, mean reduction.
//
// loss = -(1 / K) sum over samples n with target[n] != ignore_index of log_probs[n, target[n]],
// K the number of such samples. When every sample is ignored K = 0 and the loss is NaN, as in
// PyTorch; the backward then gives zero gradients. A target outside [0, C) that is not
// ignore_index throws std::out_of_range naming the sample and its value.
#pragma once

#include <katachi/error.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include <katachi/kernels/elementwise.hpp>

namespace katachi::kernels {

namespace detail {

// Checks target against [N] and every value against [0, classes) or ignore_index; returns the
// number of samples that are not ignored.
template <class TG>
std::size_t count_targets(const char* op, const TG& target, std::size_t samples, std::size_t classes,
                          std::int64_t ignore_index) {
    require_shape(op, "target", target, {samples});
    const std::int64_t* t = data_of(target);
    std::size_t kept = 0;
    for (std::size_t n = 0; n < samples; ++n) {
        if (t[n] == ignore_index) continue;
        if (t[n] < 0 || static_cast<std::size_t>(t[n]) >= classes)
            KATACHI_THROW(std::out_of_range, (katachi::detail::sentence()
                                              << op << ": target[" << n << "] = " << t[n]
                                              << " is not a class index in [0, " << classes << ") nor ignore_index ("
                                              << ignore_index << ")")
                                                 .c_str());
        ++kept;
    }
    return kept;
}

// Sum over kept samples of -log_probs[n, target[n]]; targets already checked.
template <class A, class LP, class TG>
A nll_sum(const LP& log_probs, const TG& target, std::int64_t ignore_index) {
    const std::size_t samples = log_probs.shape()[0], classes = log_probs.shape()[1];
    const auto* lp = data_of(log_probs);
    const std::int64_t* t = data_of(target);
    A sum = 0;
    for (std::size_t n = 0; n < samples; ++n)
        if (t[n] != ignore_index) sum -= lp[n * classes + static_cast<std::size_t>(t[n])];
    return sum;
}

}  // namespace detail

// Mean of -log_probs[n, target[n]] over the samples that are not ignored.
template <detail::real_tensor LP, detail::index_tensor TG>
detail::value_t<LP> nll_loss_forward(const LP& log_probs, const TG& target,
                                     std::int64_t ignore_index = -100) {
    using T = detail::value_t<LP>;
    using A = detail::accumulator_t<T>;
    detail::require_rank("nll_loss_forward", "log_probs", log_probs, 2);
    const std::size_t kept = detail::count_targets("nll_loss_forward", target, log_probs.shape()[0],
                                                   log_probs.shape()[1], ignore_index);
    if (kept == 0) return std::numeric_limits<T>::quiet_NaN();
    return static_cast<T>(detail::nll_sum<A>(log_probs, target, ignore_index) / A(kept));
}

// dlog_probs[n, target[n]] = -dloss / K for kept samples; every other element gets 0.
template <detail::index_tensor TG, class DLP>
requires detail::gradient_of<DLP, detail::gradient_scalar_t<DLP>>
void nll_loss_backward(const TG& target, detail::gradient_scalar_t<DLP> dloss, DLP&& dlog_probs,
                       std::int64_t ignore_index = -100, write mode = write::overwrite) {
    using T = detail::gradient_scalar_t<DLP>;
    if constexpr (!is_none_v<DLP>) {
        detail::require_rank("nll_loss_backward", "dlog_probs", dlog_probs, 2);
        const std::size_t samples = dlog_probs.shape()[0], classes = dlog_probs.shape()[1];
        const std::size_t kept =
            detail::count_targets("nll_loss_backward", target, samples, classes, ignore_index);
        T* g = detail::data_of(dlog_probs);
        if (mode == write::overwrite)
            for (std::size_t i = 0; i < samples * classes; ++i) g[i] = T(0);
        if (kept == 0) return;
        const T step = -dloss / static_cast<T>(kept);
        const std::int64_t* t = detail::data_of(target);
        for (std::size_t n = 0; n < samples; ++n)
            if (t[n] != ignore_index) g[n * classes + static_cast<std::size_t>(t[n])] += step;
    }
}

}  // namespace katachi::kernels
