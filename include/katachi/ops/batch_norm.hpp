// katachi/ops/batch_norm.hpp: batch normalisation per channel (torch.nn.BatchNorm1d/2d), defined
// once for both faces.
//
// batch_norm1d takes a per-sample [C] or [C, L], batch_norm2d [C, H, W]; channels come first.
// PyTorch's options and defaults: eps 1e-5; momentum 0.1, or None for a cumulative average
// (momentum 1 / num_batches_tracked); affine (weight 1 and bias 0, trained); track_running_stats
// (buffers running_mean 0 and running_var 1, and a num_batches_tracked count). In training, or
// without running statistics, the batch's statistics normalise; otherwise the running ones do.
//
// sync (PyTorch's nn.SyncBatchNorm; off by default, so that each rank of a data-parallel run keeps
// its own statistics, as PyTorch's DDP does): in training, the batch statistics are those of the
// union of every rank's batch, through the cross-rank sum installed in katachi/ops/cross_rank.hpp
// (distributed::context installs MPI's); the running variance takes the unbiased variance over that
// union, and the backward's dx sums over the ranks too, while dweight and dbias stay this rank's,
// for the gradient averaging to sum. Every rank must then run the same training forwards and
// backwards in the same order. Evaluation is unchanged, as is a process with no sum installed.
#pragma once

#include <algorithm>
#include <katachi/kernels/batch_norm.hpp>
#include <katachi/kernels/tensor_view.hpp>
#include <katachi/ops/cross_rank.hpp>
#include <katachi/ops/op.hpp>

namespace katachi::ops {

struct batch_norm_options {
    std::size_t num_features = 0;  // 0: deduced from the input (graph face, lazy_batch_norm*)
    real eps = 1e-5;
    optional_real momentum = 0.1;  // std::nullopt: a cumulative moving average
    bool affine = true;
    bool track_running_stats = true;
    bool sync = false;  // statistics over every rank's batch in training (see above)
};

namespace detail {

// p as a view of `shape`, or kernels::none when p is null; calls f with it.
template <class T, std::size_t R, class F>
decltype(auto) view_or_none(T* p, const std::array<std::size_t, R>& shape, F&& f) {
    if (p) return f(kernels::tensor_view<T, R>(p, shape));
    return f(kernels::none);
}

}  // namespace detail

// SpatialRank: 1 for batch_norm1d ([C] or [C, L]), 2 for batch_norm2d ([C, H, W]), 0 for the
// functional batch_norm ([C, *], any rank).
template <std::size_t SpatialRank>
struct basic_batch_norm : op_defaults {
    using options_type = batch_norm_options;
    static constexpr const char* name =
        SpatialRank == 0 ? "batch_norm" : SpatialRank == 1 ? "batch_norm1d" : "batch_norm2d";

    static constexpr text spelling(const batch_norm_options& o) {
        const batch_norm_options d{};
        const bool plain = o.eps == d.eps && o.momentum == d.momentum && o.affine && o.track_running_stats &&
                           !o.sync && o.num_features == 0;
        text t(name);
        if (plain) return t;
        t = text("layer<ops::") << name << ", {";
        const char* sep = "";
        if (o.num_features) (t << ".num_features = " << o.num_features), sep = ", ";
        if (!(o.eps == d.eps)) (t << sep << ".eps = " << o.eps.value()), sep = ", ";
        if (!o.momentum.has_value())
            (t << sep << ".momentum = std::nullopt"), sep = ", ";
        else if (!(o.momentum == d.momentum))
            (t << sep << ".momentum = " << o.momentum.value()), sep = ", ";
        if (!o.affine) (t << sep << ".affine = false"), sep = ", ";
        if (!o.track_running_stats) (t << sep << ".track_running_stats = false"), sep = ", ";
        if (o.sync) t << sep << ".sync = true";
        return t << "}>";
    }

    static constexpr rule output_shape(const batch_norm_options& o, const dims& in) {
        if (SpatialRank == 0 && in.rank == 0)
            return text() << "takes a per-sample [C, *] with channels first, got " << in;
        if (SpatialRank == 1 && in.rank != 1 && in.rank != 2)
            return text() << "takes a per-sample [C] or [C, L], got " << in
                          << ": use batch_norm2d for images";
        if (SpatialRank == 2 && in.rank != 3)
            return text() << "takes a per-sample [C, H, W], got " << in
                          << ": use batch_norm1d for features or sequences";
        if (o.num_features != 0 && in[0] != o.num_features)
            return text() << "has num_features " << o.num_features << " but its input has " << in[0]
                          << " channels (per-sample shape " << in << ")";
        return in;
    }

    static constexpr batch_norm_options bound(batch_norm_options o, const dims& in) {
        o.num_features = in[0];
        return o;
    }

    static constexpr tensor_specs parameters(const batch_norm_options& o) {
        if (!o.affine) return {};
        return {{"weight", 1, {o.num_features}}, {"bias", 1, {o.num_features}}};
    }
    static constexpr tensor_specs buffers(const batch_norm_options& o) {
        if (!o.track_running_stats) return {};
        return {{"running_mean", 1, {o.num_features}}, {"running_var", 1, {o.num_features}}};
    }
    static constexpr bool tracks_batches(const batch_norm_options& o) { return o.track_running_stats; }
    // save_mean and save_invstd of a forward on the batch's statistics.
    static constexpr std::size_t saved_size(const batch_norm_options& o, const dims&, std::size_t) {
        return 2 * o.num_features;
    }

    template <class T>
    static void reset(const batch_norm_options& o, const std::array<T*, 4>& p, const std::array<T*, 4>& b,
                      generator&) {
        const std::size_t c = o.num_features;
        if (p[0]) std::fill(p[0], p[0] + c, T(1));
        if (p[1]) std::fill(p[1], p[1] + c, T(0));
        if (b[0]) std::fill(b[0], b[0] + c, T(0));
        if (b[1]) std::fill(b[1], b[1] + c, T(1));
    }

    // Whether a call normalises with the batch's statistics.
    static constexpr bool uses_batch(const batch_norm_options& o, bool training) {
        return training || !o.track_running_stats;
    }

    // The cross-rank sum a call takes: only a synchronised op in training (as PyTorch, which does
    // not synchronise an evaluation without running statistics: ranks need not evaluate alike).
    static kernels::cross_rank_sum sync_sum(const batch_norm_options& o, bool training) {
        return o.sync && training ? installed_cross_rank_sum() : nullptr;
    }

    // The evaluation backward normalises by the running statistics.
    static constexpr bool backward_reads_buffers(const batch_norm_options& o, bool training) {
        return !uses_batch(o, training);
    }

    template <class T>
    static void forward(const batch_norm_options& o, const dims& in, const call<T>& c) {
        const std::size_t ch = o.num_features;
        const std::array<std::size_t, 3> xs{c.batch, ch, in.size() / ch};
        const kernels::tensor_view<const T, 3> x(c.x[0], xs);
        kernels::tensor_view<T, 3> y(c.y, xs);
        const std::array<std::size_t, 1> vs{ch};
        T* w = const_cast<T*>(c.params[0]);
        T* b = const_cast<T*>(c.params[1]);
        if (uses_batch(o, c.training)) {
            // Running statistics move only in training (PyTorch's rule), by momentum or, for None,
            // by the cumulative average 1 / num_batches_tracked after this batch is counted.
            const bool move = c.training && o.track_running_stats;
            double momentum = o.momentum.has_value() ? o.momentum.value() : 0.0;
            if (move && c.batches_tracked) {
                ++*c.batches_tracked;
                if (!o.momentum.has_value()) momentum = 1.0 / static_cast<double>(*c.batches_tracked);
            }
            const kernels::batch_norm_options ko{
                .eps = o.eps, .momentum = momentum, .sync = sync_sum(o, c.training)};
            kernels::tensor_view<T, 1> mean(c.saved, vs), invstd(c.saved + ch, vs);
            detail::view_or_none(w, vs, [&](auto wv) {
                detail::view_or_none(b, vs, [&](auto bv) {
                    detail::view_or_none(move ? c.buffers[0] : nullptr, vs, [&](auto rm) {
                        detail::view_or_none(move ? c.buffers[1] : nullptr, vs, [&](auto rv) {
                            kernels::batch_norm_forward_train(x, wv, bv, rm, rv, y, mean, invstd, ko);
                        });
                    });
                });
            });
        } else {
            const kernels::batch_norm_options ko{.eps = o.eps};
            const kernels::tensor_view<const T, 1> rm(c.buffers[0], vs), rv(c.buffers[1], vs);
            detail::view_or_none(w, vs, [&](auto wv) {
                detail::view_or_none(b, vs, [&](auto bv) {
                    kernels::batch_norm_forward_eval(x, wv, bv, rm, rv, y, ko);
                });
            });
        }
    }

    template <class T>
    static void backward(const batch_norm_options& o, const dims& in, const call<T>& c) {
        const std::size_t ch = o.num_features;
        const std::array<std::size_t, 3> xs{c.batch, ch, in.size() / ch};
        const std::array<std::size_t, 1> vs{ch};
        const kernels::tensor_view<const T, 3> x(c.x[0], xs), dy(c.dy, xs);
        const bool batch_stats = uses_batch(o, c.training);
        const auto run = [&](auto&& dx, auto&& dw, auto&& db, kernels::write mode) {
            detail::view_or_none(c.params[0], vs, [&](auto w) {
                if (batch_stats) {
                    const kernels::tensor_view<const T, 1> mean(c.saved, vs), invstd(c.saved + ch, vs);
                    kernels::batch_norm_backward_train(x, w, mean, invstd, dy, dx, dw, db, mode,
                                                       sync_sum(o, c.training));
                } else {
                    const kernels::tensor_view<const T, 1> rm(c.buffers[0], vs), rv(c.buffers[1], vs);
                    kernels::batch_norm_backward_eval(x, w, rm, rv, dy, dx, dw, db, {.eps = o.eps}, mode);
                }
            });
        };
        const auto none = kernels::none;
        if (c.dx[0]) run(kernels::tensor_view<T, 3>(c.dx[0], xs), none, none, c.dx_mode[0]);
        if (c.dparams[0]) run(none, kernels::tensor_view<T, 1>(c.dparams[0], vs), none, c.dparams_mode);
        if (c.dparams[1]) run(none, none, kernels::tensor_view<T, 1>(c.dparams[1], vs), c.dparams_mode);
    }
};

using batch_norm = basic_batch_norm<0>;
using batch_norm1d = basic_batch_norm<1>;
using batch_norm2d = basic_batch_norm<2>;

}  // namespace katachi::ops
