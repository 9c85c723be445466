// katachi/optim/multi_step_lr.hpp: torch.optim.lr_scheduler.MultiStepLR.
//
//   at an epoch listed k times in milestones: lr = lr * gamma^k   (a milestone may repeat, as in
//   PyTorch's Counter), i.e. base_lr * gamma^(milestones passed)
//
//   optim::multi_step_lr sched(opt, {.milestones = {30, 80}, .gamma = 0.1});
#pragma once

#include <cmath>
#include <cstdint>
#include <katachi/optim/lr_scheduler_base.hpp>
#include <span>
#include <string>
#include <vector>

namespace katachi::optim {

struct multi_step_lr_options {
    std::vector<std::int64_t> milestones = {};  // epochs, non-decreasing
    double gamma = 0.1;
};

namespace detail {

inline void check_options(const multi_step_lr_options& o) {
    for (std::size_t i = 0; i < o.milestones.size(); ++i) {
        if (o.milestones[i] < 0)
            detail::scheduler_option_error("multi_step_lr", "milestones must be epochs (non-negative), got " +
                                                                std::to_string(o.milestones[i]));
        if (i > 0 && o.milestones[i] < o.milestones[i - 1])
            detail::scheduler_option_error("multi_step_lr", "milestones must be increasing, got " +
                                                                std::to_string(o.milestones[i]) + " after " +
                                                                std::to_string(o.milestones[i - 1]));
    }
    if (!(o.gamma > 0) || !std::isfinite(o.gamma))
        detail::scheduler_option_error("multi_step_lr",
                                       "gamma must be a positive factor, got " + detail::real_text(o.gamma));
}

}  // namespace detail

// The rate at `epoch` of the schedule that starts at base_lr, in closed form (PyTorch's
// _get_closed_form_lr), for a loop that sets the rate itself (e.g. over graph::static_model's update
// rules, without an optimiser object); the scheduler below steps to the same rates:
//   base_lr gamma^(milestones <= epoch)
inline double lr_at(const multi_step_lr_options& o, double base_lr, std::int64_t epoch) {
    detail::check_options(o);
    int passed = 0;  // milestones <= epoch, repeats counted
    for (const std::int64_t m : o.milestones) passed += m <= epoch;
    return base_lr * std::pow(o.gamma, static_cast<double>(passed));
}

template <scheduled_optimiser Optimiser>
class multi_step_lr : public detail::lr_scheduler<multi_step_lr<Optimiser>, Optimiser> {
    using base = detail::lr_scheduler<multi_step_lr<Optimiser>, Optimiser>;
    friend base;

public:
    multi_step_lr(Optimiser& opt, multi_step_lr_options options) : base(opt), options_(std::move(options)) {
        detail::check_options(options_);
        this->initial_step();
    }

    const multi_step_lr_options& options() const noexcept { return options_; }
    static const char* name() noexcept { return "multi_step_lr"; }

private:
    double next_lr(std::size_t, double lr) const {
        int times = 0;
        for (const std::int64_t m : options_.milestones) times += m == this->last_epoch;
        return times == 0 ? lr : lr * std::pow(options_.gamma, static_cast<double>(times));
    }
    double closed_form_lr(std::size_t g) const {
        return lr_at(options_, this->base_lrs_[g], this->last_epoch);
    }
    void put_options(io::tensor_map& out) const {
        const auto& m = options_.milestones;
        if (!m.empty())
            out.insert_or_assign(
                "milestones", io::tensor::from<std::int64_t>(std::span<const std::int64_t>(m), {m.size()}));
        detail::put_real(out, "gamma", options_.gamma);
    }
    void get_options(const io::tensor_map& in) {
        multi_step_lr_options o;
        if (const auto it = in.find("milestones"); it != in.end()) {
            const auto m = it->second.as<std::int64_t>();
            o.milestones.assign(m.begin(), m.end());
        }
        o.gamma = detail::get_real(name(), in, "gamma");
        detail::check_options(o);
        options_ = std::move(o);
    }

    multi_step_lr_options options_;
};

}  // namespace katachi::optim
