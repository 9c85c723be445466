// katachi/optim/step_lr.hpp: torch.optim.lr_scheduler.StepLR.
//
//   lr = lr * gamma at every epoch that is a multiple of step_size, i.e. base_lr * gamma^(epoch / step_size)
//
//   optim::step_lr sched(opt, {.step_size = 30, .gamma = 0.1});   // after each epoch: sched.step()
#pragma once

#include <cmath>
#include <cstdint>
#include <katachi/optim/lr_scheduler_base.hpp>
#include <string>

namespace katachi::optim {

struct step_lr_options {
    std::int64_t step_size = 0;  // required: epochs between decays
    double gamma = 0.1;
};

namespace detail {

inline void check_options(const step_lr_options& o) {
    if (o.step_size <= 0)
        detail::scheduler_option_error(
            "step_lr", "step_size must be a positive number of epochs, got " + std::to_string(o.step_size));
    if (!(o.gamma > 0) || !std::isfinite(o.gamma))
        detail::scheduler_option_error("step_lr",
                                       "gamma must be a positive factor, got " + detail::real_text(o.gamma));
}

}  // namespace detail

// The rate at `epoch` of the schedule that starts at base_lr, in closed form (PyTorch's
// _get_closed_form_lr), for a loop that sets the rate itself (e.g. over graph::static_model's update
// rules, without an optimiser object); the scheduler below steps to the same rates:
//   base_lr gamma^(epoch / step_size)
inline double lr_at(const step_lr_options& o, double base_lr, std::int64_t epoch) {
    detail::check_options(o);
    return base_lr * std::pow(o.gamma, static_cast<double>(epoch / o.step_size));
}

template <scheduled_optimiser Optimiser>
class step_lr : public detail::lr_scheduler<step_lr<Optimiser>, Optimiser> {
    using base = detail::lr_scheduler<step_lr<Optimiser>, Optimiser>;
    friend base;

public:
    step_lr(Optimiser& opt, step_lr_options options) : base(opt), options_(options) {
        detail::check_options(options);
        this->initial_step();
    }

    const step_lr_options& options() const noexcept { return options_; }
    static const char* name() noexcept { return "step_lr"; }

private:
    double next_lr(std::size_t, double lr) const {
        if (this->last_epoch == 0 || this->last_epoch % options_.step_size != 0) return lr;
        return lr * options_.gamma;
    }
    double closed_form_lr(std::size_t g) const {
        return lr_at(options_, this->base_lrs_[g], this->last_epoch);
    }
    void put_options(io::tensor_map& out) const {
        detail::put_int(out, "step_size", options_.step_size);
        detail::put_real(out, "gamma", options_.gamma);
    }
    void get_options(const io::tensor_map& in) {
        step_lr_options o;
        o.step_size = detail::get_int(name(), in, "step_size");
        o.gamma = detail::get_real(name(), in, "gamma");
        detail::check_options(o);
        options_ = o;
    }

    step_lr_options options_;
};

}  // namespace katachi::optim
