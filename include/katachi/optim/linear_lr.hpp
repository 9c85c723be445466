// katachi/optim/linear_lr.hpp: torch.optim.lr_scheduler.LinearLR, the usual warm-up.
//
//   closed form: lr = base_lr (start_factor + (end_factor - start_factor) min(epoch, total_iters) /
//   total_iters) stepped as PyTorch steps it, from the optimiser's current rate:
//     epoch 0: lr * start_factor;   epoch > total_iters: lr;
//     else lr (1 + (end - start) / (total_iters start + (epoch - 1) (end - start)))
//
//   optim::linear_lr warmup(opt, {.start_factor = 0.1, .total_iters = 500});
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <katachi/optim/lr_scheduler_base.hpp>
#include <string>

namespace katachi::optim {

struct linear_lr_options {
    double start_factor = 1.0 / 3;
    double end_factor = 1.0;
    std::int64_t total_iters = 5;
};

namespace detail {

inline void check_options(const linear_lr_options& o) {
    if (!(o.start_factor > 0 && o.start_factor <= 1))
        detail::scheduler_option_error(
            "linear_lr", "start_factor must lie in (0, 1], got " + detail::real_text(o.start_factor));
    if (!(o.end_factor >= 0 && o.end_factor <= 1))
        detail::scheduler_option_error(
            "linear_lr", "end_factor must lie in [0, 1], got " + detail::real_text(o.end_factor));
    if (o.total_iters <= 0)
        detail::scheduler_option_error("linear_lr", "total_iters must be a positive number of epochs, got " +
                                                        std::to_string(o.total_iters));
}

}  // namespace detail

// The rate at `epoch` of the schedule that starts at base_lr, in closed form (PyTorch's
// _get_closed_form_lr), for a loop that sets the rate itself (e.g. over graph::static_model's update
// rules, without an optimiser object); the scheduler below steps to the same rates:
//   base_lr (start_factor + (end_factor - start_factor) min(epoch, total_iters) / total_iters)
inline double lr_at(const linear_lr_options& o, double base_lr, std::int64_t epoch) {
    detail::check_options(o);
    const double done = static_cast<double>(std::min(o.total_iters, epoch));
    return base_lr *
           (o.start_factor + (o.end_factor - o.start_factor) * done / static_cast<double>(o.total_iters));
}

template <scheduled_optimiser Optimiser>
class linear_lr : public detail::lr_scheduler<linear_lr<Optimiser>, Optimiser> {
    using base = detail::lr_scheduler<linear_lr<Optimiser>, Optimiser>;
    friend base;

public:
    linear_lr(Optimiser& opt, linear_lr_options options = {}) : base(opt), options_(options) {
        detail::check_options(options);
        this->initial_step();
    }

    const linear_lr_options& options() const noexcept { return options_; }
    static const char* name() noexcept { return "linear_lr"; }

private:
    double next_lr(std::size_t, double lr) const {
        const std::int64_t e = this->last_epoch;
        const double s = options_.start_factor, d = options_.end_factor - options_.start_factor;
        if (e == 0) return lr * s;
        if (e > options_.total_iters) return lr;
        return lr *
               (1. + d / (static_cast<double>(options_.total_iters) * s + static_cast<double>(e - 1) * d));
    }
    double closed_form_lr(std::size_t g) const {
        return lr_at(options_, this->base_lrs_[g], this->last_epoch);
    }
    void put_options(io::tensor_map& out) const {
        detail::put_real(out, "start_factor", options_.start_factor);
        detail::put_real(out, "end_factor", options_.end_factor);
        detail::put_int(out, "total_iters", options_.total_iters);
    }
    void get_options(const io::tensor_map& in) {
        linear_lr_options o;
        o.start_factor = detail::get_real(name(), in, "start_factor");
        o.end_factor = detail::get_real(name(), in, "end_factor");
        o.total_iters = detail::get_int(name(), in, "total_iters");
        detail::check_options(o);
        options_ = o;
    }

    linear_lr_options options_;
};

}  // namespace katachi::optim
