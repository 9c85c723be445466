// katachi/kernels/batch_norm.hpp: batch normalisation over the channel dimension, train and eval.
//
// x is [N, C], [N, C, L] or [N, C, H, W] (any rank of 2 or more; channels are dimension 1). Each
// channel c is normalised over its n = N * (product of the trailing sizes) values:
//   y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c
// Training uses the batch mean and the biased batch variance, returns save_mean and save_invstd =
// 1 / sqrt(var + eps) for the backward, and moves the running statistics as PyTorch does:
//   running_mean = (1 - momentum) running_mean + momentum mean
//   running_var  = (1 - momentum) running_var  + momentum var n / (n - 1)   (unbiased)
// Evaluation uses the running statistics instead. weight and bias may be `none` (weight 1, bias 0),
// as may the running statistics in training. Sums are taken in double, the variance in two passes.
// The count of batches seen (num_batches_tracked) belongs to the modules, not to this kernel.
//
// Synchronised (options .sync, a cross-rank sum; kernels/cross_rank.hpp): the training forward's
// sums, and the training backward's sums for dx, are summed over the ranks with the ranks' value
// counts, so mean, variance and n are those of the union of the ranks' batches; dweight and dbias
// stay this rank's own (the gradient averaging of data-parallel training sums them). Without a sum
// the same code runs on this process's batch alone. Channels go to the sum in groups of
// sync_channels, from a buffer on the stack: no heap.
#pragma once

#include <algorithm>
#include <katachi/error.hpp>
#include <cmath>
#include <cstddef>
#include <katachi/kernels/common.hpp>
#include <katachi/kernels/cross_rank.hpp>
#include <string>
#include <type_traits>

namespace katachi::kernels {

struct batch_norm_options {
    double eps = 1e-5;
    double momentum = 0.1;
    cross_rank_sum sync = nullptr;  // training: the statistics over every rank's batch (see above)
};

namespace detail {

// x seen as [outer, channels, inner]: channel c of sample n is the run x[(n C + c) inner, + inner).
struct batch_norm_layout {
    std::size_t outer;
    std::size_t channels;
    std::size_t inner;
    std::size_t count() const { return outer * inner; }
};

template <class X>
batch_norm_layout batch_norm_layout_of(const char* op, const X& x) {
    if (x.dimension() < 2)
        KATACHI_THROW(shape_mismatch, std::string(op) + ": x has shape " + shape_text(x) +
                             " but batch norm needs rank 2 or more, [N, C, *] with channels in dimension 1");
    require_rank(op, "x", x, x.dimension());
    batch_norm_layout l{x.shape()[0], x.shape()[1], 1};
    for (std::size_t i = 2; i < x.dimension(); ++i) l.inner *= x.shape()[i];
    return l;
}

// A per-channel vector [C] that may be `none`; returns its data or nullptr.
template <class T, class V>
auto* channel_data(const char* op, const char* arg, V&& v, std::size_t channels) {
    if constexpr (is_none_v<V>) {
        return static_cast<T*>(nullptr);  // converts to const T* where needed
    } else {
        static_assert(std::is_same_v<typename std::remove_cvref_t<V>::value_type, T>,
                      "batch_norm: every tensor must hold the scalar type of x");
        require_shape(op, arg, v, {channels});
        using P = std::conditional_t<std::is_const_v<std::remove_reference_t<V>>, const T*, T*>;
        return static_cast<P>(data_of(v));
    }
}

// Calls f(run, length) for every contiguous run of channel c.
template <class F>
void for_each_channel_run(const batch_norm_layout& l, std::size_t c, F&& f) {
    for (std::size_t n = 0; n < l.outer; ++n) f((n * l.channels + c) * l.inner, l.inner);
}

// Channels per cross-rank sum of the synchronised paths: [sums..., count] and then [squares...]
// fit in 2 sync_channels + 1 doubles on the stack.
inline constexpr std::size_t sync_channels = 32;

template <class T>
double channel_sum(const batch_norm_layout& l, const T* x, std::size_t c) {
    double sum = 0;
    for_each_channel_run(l, c, [&](std::size_t at, std::size_t len) {
        for (std::size_t i = 0; i < len; ++i) sum += x[at + i];
    });
    return sum;
}

template <class T>
double channel_squares(const batch_norm_layout& l, const T* x, std::size_t c, double mean) {
    double squares = 0;
    for_each_channel_run(l, c, [&](std::size_t at, std::size_t len) {
        for (std::size_t i = 0; i < len; ++i) {
            const double d = x[at + i] - mean;
            squares += d * d;
        }
    });
    return squares;
}

// The synchronised forward's check, on the count over every rank (the same on each).
inline void require_two_values(const char* op, double n) {
    if (n < 2)
        KATACHI_THROW(shape_mismatch, std::string(op) + ": the ranks' batches hold " +
                                          std::to_string(static_cast<std::size_t>(n)) +
                                          " value(s) per channel together; training needs more than one");
}

}  // namespace detail

// Normalises with the batch statistics and updates the running statistics (either may be none).
template <class X, class W, class B, class RM, class RV, class Y, class SM, class SI>
void batch_norm_forward_train(const X& x, const W& weight, const B& bias, RM&& running_mean, RV&& running_var,
                              Y&& y, SM&& save_mean, SI&& save_invstd, const batch_norm_options& opts = {}) {
    using T = typename std::remove_cvref_t<X>::value_type;
    static_assert(std::is_floating_point_v<T>, "batch_norm_forward_train: x must hold float or double");
    static_assert(!is_none_v<SM> && !is_none_v<SI>,
                  "batch_norm_forward_train: save_mean and save_invstd are outputs the backward needs");
    constexpr const char* op = "batch_norm_forward_train";
    const auto l = detail::batch_norm_layout_of(op, x);
    const std::size_t C = l.channels;
    const T* w = detail::channel_data<T>(op, "weight", weight, C);
    const T* b = detail::channel_data<T>(op, "bias", bias, C);
    T* rm = detail::channel_data<T>(op, "running_mean", running_mean, C);
    T* rv = detail::channel_data<T>(op, "running_var", running_var, C);
    T* sm = detail::channel_data<T>(op, "save_mean", save_mean, C);
    T* si = detail::channel_data<T>(op, "save_invstd", save_invstd, C);
    static_assert(std::is_same_v<typename std::remove_cvref_t<Y>::value_type, T>,
                  "batch_norm_forward_train: y must hold the scalar type of x");
    detail::require_same_shape(op, "y", y, "x", x);
    const T* xp = detail::data_of(x);
    T* yp = detail::data_of(y);
    // Channel c from its batch mean and biased variance over n values.
    const auto normalise = [&](std::size_t c, double mean, double var, double n) {
        const double invstd = 1.0 / std::sqrt(var + opts.eps);
        const double scale = (w ? w[c] : 1.0) * invstd;
        const double shift = b ? b[c] : 0.0;
        detail::for_each_channel_run(l, c, [&](std::size_t at, std::size_t len) {
            for (std::size_t i = 0; i < len; ++i)
                yp[at + i] = static_cast<T>((xp[at + i] - mean) * scale + shift);
        });
        sm[c] = static_cast<T>(mean);
        si[c] = static_cast<T>(invstd);
        if (rm) rm[c] = static_cast<T>((1 - opts.momentum) * rm[c] + opts.momentum * mean);
        if (rv) rv[c] = static_cast<T>((1 - opts.momentum) * rv[c] + opts.momentum * var * n / (n - 1));
    };
    if (!opts.sync) {
        if (l.count() < 2)
            KATACHI_THROW(shape_mismatch, std::string(op) + ": x has shape " + detail::shape_text(x) +
                                 "; training needs more than one value per channel");
        const double n = static_cast<double>(l.count());
        for (std::size_t c = 0; c < C; ++c) {
            const double mean = detail::channel_sum(l, xp, c) / n;
            normalise(c, mean, detail::channel_squares(l, xp, c, mean) / n, n);
        }
        return;
    }
    // Over the ranks: the sums and the count, then the squares about the mean of all ranks.
    constexpr std::size_t K = detail::sync_channels;
    double s[2 * K + 1];
    for (std::size_t c0 = 0; c0 < C; c0 += K) {
        const std::size_t k = std::min(K, C - c0);
        for (std::size_t j = 0; j < k; ++j) s[j] = detail::channel_sum(l, xp, c0 + j);
        s[k] = static_cast<double>(l.count());
        opts.sync(s, k + 1);
        const double n = s[k];
        detail::require_two_values(op, n);
        for (std::size_t j = 0; j < k; ++j) s[j] /= n;
        for (std::size_t j = 0; j < k; ++j) s[k + 1 + j] = detail::channel_squares(l, xp, c0 + j, s[j]);
        opts.sync(s + k + 1, k);
        for (std::size_t j = 0; j < k; ++j) normalise(c0 + j, s[j], s[k + 1 + j] / n, n);
    }
}

// Normalises with the running statistics; nothing is updated.
template <class X, class W, class B, class RM, class RV, class Y>
void batch_norm_forward_eval(const X& x, const W& weight, const B& bias, const RM& running_mean,
                             const RV& running_var, Y&& y, const batch_norm_options& opts = {}) {
    using T = typename std::remove_cvref_t<X>::value_type;
    static_assert(std::is_floating_point_v<T>, "batch_norm_forward_eval: x must hold float or double");
    static_assert(!is_none_v<RM> && !is_none_v<RV>,
                  "batch_norm_forward_eval: evaluation needs running_mean and running_var");
    constexpr const char* op = "batch_norm_forward_eval";
    const auto l = detail::batch_norm_layout_of(op, x);
    const std::size_t C = l.channels;
    const T* w = detail::channel_data<T>(op, "weight", weight, C);
    const T* b = detail::channel_data<T>(op, "bias", bias, C);
    const T* rm = detail::channel_data<T>(op, "running_mean", running_mean, C);
    const T* rv = detail::channel_data<T>(op, "running_var", running_var, C);
    static_assert(std::is_same_v<typename std::remove_cvref_t<Y>::value_type, T>,
                  "batch_norm_forward_eval: y must hold the scalar type of x");
    detail::require_same_shape(op, "y", y, "x", x);
    const T* xp = detail::data_of(x);
    T* yp = detail::data_of(y);
    for (std::size_t c = 0; c < C; ++c) {
        const double scale = (w ? w[c] : 1.0) / std::sqrt(static_cast<double>(rv[c]) + opts.eps);
        const double mean = rm[c];
        const double shift = b ? b[c] : 0.0;
        detail::for_each_channel_run(l, c, [&](std::size_t at, std::size_t len) {
            for (std::size_t i = 0; i < len; ++i)
                yp[at + i] = static_cast<T>((xp[at + i] - mean) * scale + shift);
        });
    }
}

// Gradients of the training forward, through the batch statistics:
//   dbias_c   = sum dy
//   dweight_c = sum dy xhat                       with xhat = (x - mean) invstd
//   dx        = weight invstd (dy - dbias_c / n - xhat dweight_c / n)
// dx, dweight and dbias may each be none. With `sync` (the forward's), dx takes the two sums and n
// over every rank; dweight and dbias are this rank's sums. Every rank must then ask for dx alike.
template <class X, class W, class SM, class SI, class DY, class DX, class DW, class DB>
void batch_norm_backward_train(const X& x, const W& weight, const SM& save_mean, const SI& save_invstd,
                               const DY& dy, DX&& dx, DW&& dweight, DB&& dbias,
                               write mode = write::overwrite, cross_rank_sum sync = nullptr) {
    using T = typename std::remove_cvref_t<X>::value_type;
    static_assert(std::is_floating_point_v<T>, "batch_norm_backward_train: x must hold float or double");
    static_assert(!is_none_v<SM> && !is_none_v<SI>,
                  "batch_norm_backward_train: pass the save_mean and save_invstd of the forward");
    constexpr const char* op = "batch_norm_backward_train";
    const auto l = detail::batch_norm_layout_of(op, x);
    const std::size_t C = l.channels;
    const T* w = detail::channel_data<T>(op, "weight", weight, C);
    const T* sm = detail::channel_data<T>(op, "save_mean", save_mean, C);
    const T* si = detail::channel_data<T>(op, "save_invstd", save_invstd, C);
    T* dw = detail::channel_data<T>(op, "dweight", dweight, C);
    T* db = detail::channel_data<T>(op, "dbias", dbias, C);
    static_assert(std::is_same_v<typename std::remove_cvref_t<DY>::value_type, T>,
                  "batch_norm_backward_train: dy must hold the scalar type of x");
    detail::require_same_shape(op, "dy", dy, "x", x);
    T* dxp = nullptr;
    if constexpr (!is_none_v<DX>) {
        static_assert(std::is_same_v<typename std::remove_cvref_t<DX>::value_type, T>,
                      "batch_norm_backward_train: dx must hold the scalar type of x");
        detail::require_same_shape(op, "dx", dx, "x", x);
        dxp = detail::data_of(dx);
    }
    const T* xp = detail::data_of(x);
    const T* gp = detail::data_of(dy);
    // Per group of channels: [sum dy..., sum dy (x - mean)..., n], this rank's and then, for dx,
    // every rank's.
    constexpr std::size_t K = detail::sync_channels;
    double s[2 * K + 1];
    for (std::size_t c0 = 0; c0 < C; c0 += K) {
        const std::size_t k = std::min(K, C - c0);
        for (std::size_t j = 0; j < k; ++j) {
            const std::size_t c = c0 + j;
            const double mean = sm[c];
            double sum_dy = 0, sum_dy_xmu = 0;
            detail::for_each_channel_run(l, c, [&](std::size_t at, std::size_t len) {
                for (std::size_t i = 0; i < len; ++i) {
                    sum_dy += gp[at + i];
                    sum_dy_xmu += gp[at + i] * (xp[at + i] - mean);
                }
            });
            if (dw) detail::store(dw, c, static_cast<T>(sum_dy_xmu * si[c]), mode);
            if (db) detail::store(db, c, static_cast<T>(sum_dy), mode);
            s[j] = sum_dy;
            s[k + j] = sum_dy_xmu;
        }
        if (!dxp) continue;
        s[2 * k] = static_cast<double>(l.count());
        if (sync) sync(s, 2 * k + 1);
        const double n = s[2 * k];
        for (std::size_t j = 0; j < k; ++j) {
            const std::size_t c = c0 + j;
            const double mean = sm[c], invstd = si[c];
            const double mean_dy = s[j] / n;
            const double q = s[k + j] * invstd * invstd / n;  // dweight / n, per unit of xhat / invstd
            const double scale = (w ? w[c] : 1.0) * invstd;
            detail::for_each_channel_run(l, c, [&](std::size_t at, std::size_t len) {
                for (std::size_t i = 0; i < len; ++i)
                    detail::store(dxp, at + i,
                                  static_cast<T>((gp[at + i] - mean_dy - (xp[at + i] - mean) * q) * scale),
                                  mode);
            });
        }
    }
}

// Gradients of the evaluation forward (the running statistics are constants):
//   dx = dy weight / sqrt(running_var + eps); dweight_c = sum dy xhat; dbias_c = sum dy.
template <class X, class W, class RM, class RV, class DY, class DX, class DW, class DB>
void batch_norm_backward_eval(const X& x, const W& weight, const RM& running_mean, const RV& running_var,
                              const DY& dy, DX&& dx, DW&& dweight, DB&& dbias,
                              const batch_norm_options& opts = {}, write mode = write::overwrite) {
    using T = typename std::remove_cvref_t<X>::value_type;
    static_assert(std::is_floating_point_v<T>, "batch_norm_backward_eval: x must hold float or double");
    static_assert(!is_none_v<RM> && !is_none_v<RV>,
                  "batch_norm_backward_eval: evaluation needs running_mean and running_var");
    constexpr const char* op = "batch_norm_backward_eval";
    const auto l = detail::batch_norm_layout_of(op, x);
    const std::size_t C = l.channels;
    const T* w = detail::channel_data<T>(op, "weight", weight, C);
    const T* rm = detail::channel_data<T>(op, "running_mean", running_mean, C);
    const T* rv = detail::channel_data<T>(op, "running_var", running_var, C);
    T* dw = detail::channel_data<T>(op, "dweight", dweight, C);
    T* db = detail::channel_data<T>(op, "dbias", dbias, C);
    static_assert(std::is_same_v<typename std::remove_cvref_t<DY>::value_type, T>,
                  "batch_norm_backward_eval: dy must hold the scalar type of x");
    detail::require_same_shape(op, "dy", dy, "x", x);
    T* dxp = nullptr;
    if constexpr (!is_none_v<DX>) {
        static_assert(std::is_same_v<typename std::remove_cvref_t<DX>::value_type, T>,
                      "batch_norm_backward_eval: dx must hold the scalar type of x");
        detail::require_same_shape(op, "dx", dx, "x", x);
        dxp = detail::data_of(dx);
    }
    const T* xp = detail::data_of(x);
    const T* gp = detail::data_of(dy);
    for (std::size_t c = 0; c < C; ++c) {
        const double invstd = 1.0 / std::sqrt(static_cast<double>(rv[c]) + opts.eps);
        const double mean = rm[c];
        if (dxp) {
            const double scale = (w ? w[c] : 1.0) * invstd;
            detail::for_each_channel_run(l, c, [&](std::size_t at, std::size_t len) {
                for (std::size_t i = 0; i < len; ++i)
                    detail::store(dxp, at + i, static_cast<T>(gp[at + i] * scale), mode);
            });
        }
        if (dw || db) {
            double sum_dy = 0, sum_dy_xmu = 0;
            detail::for_each_channel_run(l, c, [&](std::size_t at, std::size_t len) {
                for (std::size_t i = 0; i < len; ++i) {
                    sum_dy += gp[at + i];
                    sum_dy_xmu += gp[at + i] * (xp[at + i] - mean);
                }
            });
            if (dw) detail::store(dw, c, static_cast<T>(sum_dy_xmu * invstd), mode);
            if (db) detail::store(db, c, static_cast<T>(sum_dy), mode);
        }
    }
}

}  // namespace katachi::kernels
