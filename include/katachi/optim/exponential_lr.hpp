// katachi/optim/exponential_lr.hpp: torch.optim.lr_scheduler.ExponentialLR.
//
//   lr = lr * gamma at every epoch after the first, i.e. base_lr * gamma^epoch
//
//   optim::exponential_lr sched(opt, {.gamma = 0.95});
#pragma once

#include <cmath>
#include <katachi/optim/lr_scheduler_base.hpp>

namespace katachi::optim {

struct exponential_lr_options {
    double gamma = 0;  // required: the factor per epoch
};

namespace detail {

inline void check_options(const exponential_lr_options& o) {
    if (!(o.gamma > 0) || !std::isfinite(o.gamma))
        detail::scheduler_option_error("exponential_lr",
                                       "gamma must be a positive factor, got " + detail::real_text(o.gamma));
}

}  // namespace detail

// The rate at `epoch` of the schedule that starts at base_lr, in closed form (PyTorch's
// _get_closed_form_lr), for a loop that sets the rate itself (e.g. over graph::static_model's update
// rules, without an optimiser object); the scheduler below steps to the same rates:
//   base_lr gamma^epoch
inline double lr_at(const exponential_lr_options& o, double base_lr, std::int64_t epoch) {
    detail::check_options(o);
    return base_lr * std::pow(o.gamma, static_cast<double>(epoch));
}

template <scheduled_optimiser Optimiser>
class exponential_lr : public detail::lr_scheduler<exponential_lr<Optimiser>, Optimiser> {
    using base = detail::lr_scheduler<exponential_lr<Optimiser>, Optimiser>;
    friend base;

public:
    exponential_lr(Optimiser& opt, exponential_lr_options options) : base(opt), options_(options) {
        detail::check_options(options);
        this->initial_step();
    }

    const exponential_lr_options& options() const noexcept { return options_; }
    static const char* name() noexcept { return "exponential_lr"; }

private:
    double next_lr(std::size_t, double lr) const { return this->last_epoch == 0 ? lr : lr * options_.gamma; }
    double closed_form_lr(std::size_t g) const {
        return lr_at(options_, this->base_lrs_[g], this->last_epoch);
    }
    void put_options(io::tensor_map& out) const { detail::put_real(out, "gamma", options_.gamma); }
    void get_options(const io::tensor_map& in) {
        exponential_lr_options o;
        o.gamma = detail::get_real(name(), in, "gamma");
        detail::check_options(o);
        options_ = o;
    }

    exponential_lr_options options_;
};

}  // namespace katachi::optim
