// katachi/optim/one_cycle_lr.hpp: torch.optim.lr_scheduler.OneCycleLR, stepped after every batch.
//
// Each group starts at initial_lr = max_lr / div_factor, rises to max_lr over the first pct_start of
// total_steps, then falls to min_lr = initial_lr / final_div_factor (three_phase: back down to
// initial_lr over as many steps, then to min_lr). Within a phase the rate goes from its start to its
// end value by a half cosine (anneal::cos) or a line (anneal::linear) in pct, the fraction of the
// phase done. The phases end at steps pct_start total - 1, (three_phase: 2 pct_start total - 2) and
// total - 1. With cycle_momentum the momentum (sgd's momentum, adam's beta1) moves the opposite
// way, between max_momentum and base_momentum; it is set to max_momentum when the scheduler is built.
// max_lrs gives each parameter group its own peak (PyTorch's list form of max_lr).
//
//   optim::one_cycle_lr sched(opt, {.max_lr = 0.1, .epochs = 10, .steps_per_epoch = 469});
#pragma once

#include <cmath>
#include <cstdint>
#include <katachi/optim/lr_scheduler_base.hpp>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

namespace katachi::optim {

enum class anneal { cos, linear };

struct one_cycle_lr_options {
    double max_lr = 0;                 // required: the peak rate of every group
    std::vector<double> max_lrs = {};  // one per parameter group, instead of max_lr (PyTorch's list form)
    std::int64_t total_steps = 0;      // or epochs * steps_per_epoch when 0
    std::int64_t epochs = 0;
    std::int64_t steps_per_epoch = 0;
    double pct_start = 0.3;
    anneal anneal_strategy = anneal::cos;
    bool cycle_momentum = true;
    double base_momentum = 0.85;
    double max_momentum = 0.95;
    double div_factor = 25.;
    double final_div_factor = 1e4;
    bool three_phase = false;
};

namespace detail {

// Where an optimiser keeps the momentum OneCycleLR cycles: adam's beta1, else sgd's momentum.
template <class Options>
double& cycled_momentum(Options& o) {
    if constexpr (requires { o.beta1; })
        return o.beta1;
    else
        return o.momentum;
}

}  // namespace detail

template <scheduled_optimiser Optimiser>
class one_cycle_lr : public detail::lr_scheduler<one_cycle_lr<Optimiser>, Optimiser> {
    using base = detail::lr_scheduler<one_cycle_lr<Optimiser>, Optimiser>;
    friend base;

public:
    one_cycle_lr(Optimiser& opt, one_cycle_lr_options options) : base(opt) {
        set_options(options);
        auto& groups = opt.param_groups();
        for (std::size_t g = 0; g < groups.size(); ++g) {
            this->base_lrs_[g] = max_lrs_[g] / options_.div_factor;
            if constexpr (requires { groups[g].initial_lr = 1.0; }) groups[g].initial_lr = this->base_lrs_[g];
            if (options_.cycle_momentum) detail::cycled_momentum(groups[g].options) = options_.max_momentum;
        }
        this->initial_step();
    }

    const one_cycle_lr_options& options() const noexcept { return options_; }
    // The steps the schedule was built for (total_steps, or epochs * steps_per_epoch).
    std::int64_t total_steps() const noexcept { return total_steps_; }
    static const char* name() noexcept { return "one_cycle_lr"; }

private:
    void set_options(const one_cycle_lr_options& o) {
        using detail::real_text;
        using detail::scheduler_option_error;
        const std::size_t groups = this->optimizer().param_groups().size();
        std::vector<double> max_lrs = o.max_lrs.empty() ? std::vector<double>(groups, o.max_lr) : o.max_lrs;
        if (max_lrs.size() != groups)
            scheduler_option_error(name(), "max_lrs has " + std::to_string(max_lrs.size()) +
                                               " values but the optimiser has " + std::to_string(groups) +
                                               " parameter groups");
        for (const double m : max_lrs)
            if (!(m > 0) || !std::isfinite(m))
                scheduler_option_error(name(), "max_lr must be a positive rate, got " + real_text(m));
        if (o.total_steps < 0)
            scheduler_option_error(name(),
                                   "total_steps must be positive, got " + std::to_string(o.total_steps));
        if (o.total_steps == 0) {
            if (o.epochs <= 0 || o.steps_per_epoch <= 0)
                scheduler_option_error(
                    name(), "give total_steps, or epochs and steps_per_epoch (positive), got epochs " +
                                std::to_string(o.epochs) + " and steps_per_epoch " +
                                std::to_string(o.steps_per_epoch));
        }
        if (!(o.pct_start >= 0 && o.pct_start <= 1))
            scheduler_option_error(name(), "pct_start must lie in [0, 1], got " + real_text(o.pct_start));
        if (!(o.div_factor > 0) || !std::isfinite(o.div_factor))
            scheduler_option_error(name(), "div_factor must be positive, got " + real_text(o.div_factor));
        if (!(o.final_div_factor > 0) || !std::isfinite(o.final_div_factor))
            scheduler_option_error(name(),
                                   "final_div_factor must be positive, got " + real_text(o.final_div_factor));
        options_ = o;
        max_lrs_ = std::move(max_lrs);
        total_steps_ = o.total_steps != 0 ? o.total_steps : o.epochs * o.steps_per_epoch;
        const double total = static_cast<double>(total_steps_);
        if (o.three_phase) {
            phases_[0] = {o.pct_start * total - 1, rate::initial, rate::max, 0, 1};
            phases_[1] = {2 * o.pct_start * total - 2, rate::max, rate::initial, 1, 0};
            phases_[2] = {total - 1, rate::initial, rate::min, 0, 0};
            phase_count_ = 3;
        } else {
            phases_[0] = {o.pct_start * total - 1, rate::initial, rate::max, 0, 1};
            phases_[1] = {total - 1, rate::max, rate::min, 1, 0};
            phase_count_ = 2;
        }
    }

    void before_step(std::int64_t step) const {
        if (step > total_steps_)
            KATACHI_THROW(std::logic_error, std::string(name()) + ": step() called " + std::to_string(step) +
                                                " times, past the schedule's total_steps " +
                                                std::to_string(total_steps_));
    }

    double anneal_between(double start, double end, double pct) const {
        if (options_.anneal_strategy == anneal::cos) {
            const double cos_out = std::cos(std::numbers::pi * pct) + 1;
            return end + (start - end) / 2.0 * cos_out;
        }
        return (end - start) * pct + start;
    }

    double next_lr(std::size_t g, double) {
        const double step = static_cast<double>(this->last_epoch);
        const double initial = this->base_lrs_[g];
        const double rates[3] = {initial, max_lrs_[g], initial / options_.final_div_factor};
        const double momenta[2] = {options_.max_momentum, options_.base_momentum};
        double start_step = 0;
        for (int i = 0; i < phase_count_; ++i) {
            const phase& p = phases_[i];
            if (step <= p.end_step || i == phase_count_ - 1) {
                const double pct = (step - start_step) / (p.end_step - start_step);
                if (options_.cycle_momentum)
                    detail::cycled_momentum(this->optimizer().param_groups()[g].options) =
                        anneal_between(momenta[p.start_momentum], momenta[p.end_momentum], pct);
                return anneal_between(rates[static_cast<int>(p.start_lr)], rates[static_cast<int>(p.end_lr)],
                                      pct);
            }
            start_step = p.end_step;
        }
        return initial;  // not reached: the last phase always answers
    }

    void put_options(io::tensor_map& out) const {
        const one_cycle_lr_options& o = options_;
        detail::put_reals(out, "max_lr", max_lrs_);
        detail::put_int(out, "total_steps", total_steps_);
        detail::put_real(out, "pct_start", o.pct_start);
        detail::put_int(out, "anneal_strategy", o.anneal_strategy == anneal::cos ? 0 : 1);
        detail::put_int(out, "cycle_momentum", o.cycle_momentum ? 1 : 0);
        detail::put_real(out, "base_momentum", o.base_momentum);
        detail::put_real(out, "max_momentum", o.max_momentum);
        detail::put_real(out, "div_factor", o.div_factor);
        detail::put_real(out, "final_div_factor", o.final_div_factor);
        detail::put_int(out, "three_phase", o.three_phase ? 1 : 0);
    }
    void get_options(const io::tensor_map& in) {
        one_cycle_lr_options o;
        o.max_lrs = detail::get_reals(name(), in, "max_lr", max_lrs_.size());
        o.total_steps = detail::get_int(name(), in, "total_steps");
        o.pct_start = detail::get_real(name(), in, "pct_start");
        o.anneal_strategy =
            detail::get_int(name(), in, "anneal_strategy") == 0 ? anneal::cos : anneal::linear;
        o.cycle_momentum = detail::get_int(name(), in, "cycle_momentum") != 0;
        o.base_momentum = detail::get_real(name(), in, "base_momentum");
        o.max_momentum = detail::get_real(name(), in, "max_momentum");
        o.div_factor = detail::get_real(name(), in, "div_factor");
        o.final_div_factor = detail::get_real(name(), in, "final_div_factor");
        o.three_phase = detail::get_int(name(), in, "three_phase") != 0;
        set_options(o);
    }

    enum class rate { initial = 0, max = 1, min = 2 };
    struct phase {
        double end_step;
        rate start_lr, end_lr;
        int start_momentum, end_momentum;  // 0: max_momentum, 1: base_momentum
    };

    one_cycle_lr_options options_;
    std::vector<double> max_lrs_;  // per group
    std::int64_t total_steps_ = 0;
    phase phases_[3] = {};
    int phase_count_ = 2;
};

}  // namespace katachi::optim
