// katachi/kernels/cross_entropy.hpp: cross-entropy of logits against class targets, mean reduction.
//
// The forward is log_softmax along the classes followed by nll_loss, plus PyTorch's label smoothing:
//   loss = (1 - eps) * nll + eps * (1 / K) sum over kept samples n of (1 / C) sum_c -log_probs[n, c]
// with K the number of samples whose target is not ignore_index. The log-probabilities are written
// to a caller's buffer that the backward takes back. Every sample ignored gives NaN, as in PyTorch
// (and zero gradients); a bad target throws std::out_of_range naming the sample and its value.
//
// The backward feeds the loss's gradient with respect to log_probs, which is known in closed form
//   g[n, c] = -dloss / K * ((1 - eps) [c == target[n]] + eps / C),  g = 0 on ignored rows,
// through log_softmax's backward line.
#pragma once

#include <katachi/error.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include <katachi/kernels/log_softmax.hpp>
#include <katachi/kernels/nll_loss.hpp>

namespace katachi::kernels {

struct cross_entropy_options {
    double label_smoothing = 0;  // eps in [0, 1]
    std::int64_t ignore_index = -100;
};

namespace detail {
inline void require_label_smoothing(const char* op, double eps) {
    if (!(eps >= 0.0 && eps <= 1.0))
        KATACHI_THROW(std::invalid_argument,
                      (katachi::detail::sentence() << op << ": label_smoothing must be in [0, 1], got " << eps).c_str());
}
}  // namespace detail

// Mean cross-entropy of logits [N, C] against target [N]; writes log_softmax(logits) to log_probs.
template <detail::real_tensor L, detail::index_tensor TG, detail::output_of<detail::value_t<L>> LP>
detail::value_t<L> cross_entropy_forward(const L& logits, const TG& target, LP&& log_probs,
                                         const cross_entropy_options& opts = {}) {
    using T = detail::value_t<L>;
    using A = detail::accumulator_t<T>;
    constexpr const char* op = "cross_entropy_forward";
    detail::require_rank(op, "logits", logits, 2);
    detail::require_same_shape(op, "logits", logits, "log_probs", log_probs);
    detail::require_label_smoothing(op, opts.label_smoothing);
    const std::size_t samples = logits.shape()[0], classes = logits.shape()[1];
    const std::size_t kept = detail::count_targets(op, target, samples, classes, opts.ignore_index);
    log_softmax_forward(logits, log_probs, 1);
    if (kept == 0) return std::numeric_limits<T>::quiet_NaN();
    const A nll = detail::nll_sum<A>(log_probs, target, opts.ignore_index) / A(kept);
    const A eps = A(opts.label_smoothing);
    if (eps == A(0)) return static_cast<T>(nll);
    const T* lp = detail::data_of(log_probs);
    const std::int64_t* t = detail::data_of(target);
    A smooth = 0;
    for (std::size_t n = 0; n < samples; ++n)
        if (t[n] != opts.ignore_index)
            for (std::size_t c = 0; c < classes; ++c) smooth -= lp[n * classes + c];
    return static_cast<T>((A(1) - eps) * nll + eps * smooth / (A(classes) * A(kept)));
}

// dlogits = d loss / d logits, from the log_probs the forward wrote.
template <detail::real_tensor LP, detail::index_tensor TG, detail::gradient_of<detail::value_t<LP>> DL>
void cross_entropy_backward(const LP& log_probs, const TG& target, detail::value_t<LP> dloss, DL&& dlogits,
                            const cross_entropy_options& opts = {}, write mode = write::overwrite) {
    using T = detail::value_t<LP>;
    constexpr const char* op = "cross_entropy_backward";
    if constexpr (!is_none_v<DL>) {
        detail::require_rank(op, "log_probs", log_probs, 2);
        detail::require_same_shape(op, "log_probs", log_probs, "dlogits", dlogits);
        detail::require_label_smoothing(op, opts.label_smoothing);
        const std::size_t samples = log_probs.shape()[0], classes = log_probs.shape()[1];
        const std::size_t kept = detail::count_targets(op, target, samples, classes, opts.ignore_index);
        const T eps = static_cast<T>(opts.label_smoothing);
        // On a kept row: g[c] = off + (c == target ? on : 0), and sum_c g[c] = on + C off = -dloss / K.
        const T per_sample = kept == 0 ? T(0) : -dloss / static_cast<T>(kept);
        const T on = (T(1) - eps) * per_sample;
        const T off = eps * per_sample / static_cast<T>(classes);
        const std::int64_t* t = detail::data_of(target);
        for (std::size_t n = 0; n < samples; ++n) {
            T* dx = detail::data_of(dlogits) + n * classes;
            if (t[n] == opts.ignore_index) {
                if (mode == write::overwrite)
                    for (std::size_t c = 0; c < classes; ++c) dx[c] = T(0);
                continue;
            }
            const auto hit = static_cast<std::size_t>(t[n]);
            detail::log_softmax_backward_line(
                detail::data_of(log_probs) + n * classes, classes, 1,
                [=](std::size_t c) { return c == hit ? on + off : off; }, per_sample, dx, mode);
        }
    }
}

}  // namespace katachi::kernels
