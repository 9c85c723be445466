// katachi/optim/reduce_lr_on_plateau.hpp: torch.optim.lr_scheduler.ReduceLROnPlateau.
//
// step(metric) after each evaluation. The metric improves when it is below best (1 - threshold)
// (mode min, threshold_mode rel), below best - threshold (min, abs), above best (1 + threshold)
// (max, rel) or above best + threshold (max, abs); otherwise the epoch is bad. During a cooldown the
// bad epochs are not counted. After more than patience bad epochs each group's rate becomes
// max(lr factor, min_lr) if that lowers it by more than eps, and a cooldown of cooldown epochs starts.
//
//   optim::reduce_lr_on_plateau sched(opt, {.mode = optim::plateau_mode::max, .patience = 3});
//   sched.step(test_accuracy);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <katachi/optim/lr_scheduler_base.hpp>
#include <limits>
#include <string>
#include <vector>

namespace katachi::optim {

enum class plateau_mode { min, max };
enum class plateau_threshold { rel, abs };

struct reduce_lr_on_plateau_options {
    plateau_mode mode = plateau_mode::min;
    double factor = 0.1;
    std::int64_t patience = 10;
    double threshold = 1e-4;
    plateau_threshold threshold_mode = plateau_threshold::rel;
    std::int64_t cooldown = 0;
    double min_lr = 0;
    std::vector<double> min_lrs = {};  // one per parameter group, instead of min_lr (PyTorch's list form)
    double eps = 1e-8;
};

template <scheduled_optimiser Optimiser>
class reduce_lr_on_plateau {
public:
    reduce_lr_on_plateau(Optimiser& opt, reduce_lr_on_plateau_options options = {}) : opt_(&opt) {
        set_options(std::move(options));
        for (const auto& group : opt.param_groups())
            last_lr_.push_back(static_cast<double>(group.options.lr));
        reset();
    }

    // Epochs seen (step() calls); PyTorch's last_epoch.
    std::int64_t last_epoch = 0;

    void step(double metric) {
        auto& groups = opt_->param_groups();
        detail::check_group_count(name(), min_lrs_.size(), groups.size());
        ++last_epoch;
        if (is_better(metric)) {
            best_ = metric;
            num_bad_epochs_ = 0;
        } else {
            ++num_bad_epochs_;
        }
        if (cooldown_counter_ > 0) {
            --cooldown_counter_;
            num_bad_epochs_ = 0;
        }
        if (num_bad_epochs_ > options_.patience) {
            for (std::size_t g = 0; g < groups.size(); ++g) {
                const double old_lr = static_cast<double>(groups[g].options.lr);
                const double new_lr = std::max(old_lr * options_.factor, min_lrs_[g]);
                if (old_lr - new_lr > options_.eps) groups[g].options.lr = new_lr;
            }
            cooldown_counter_ = options_.cooldown;
            num_bad_epochs_ = 0;
        }
        for (std::size_t g = 0; g < groups.size(); ++g)
            last_lr_[g] = static_cast<double>(groups[g].options.lr);
    }

    // The groups' rates after the last step (at the build, the optimiser's rates).
    const std::vector<double>& get_last_lr() const noexcept { return last_lr_; }
    const reduce_lr_on_plateau_options& options() const noexcept { return options_; }
    double best() const noexcept { return best_; }
    std::int64_t num_bad_epochs() const noexcept { return num_bad_epochs_; }
    std::int64_t cooldown_counter() const noexcept { return cooldown_counter_; }
    bool in_cooldown() const noexcept { return cooldown_counter_ > 0; }
    Optimiser& optimizer() const noexcept { return *opt_; }
    static const char* name() noexcept { return "reduce_lr_on_plateau"; }

    io::tensor_map state_dict() const {
        io::tensor_map out;
        const reduce_lr_on_plateau_options& o = options_;
        detail::put_int(out, "mode", o.mode == plateau_mode::min ? 0 : 1);
        detail::put_real(out, "factor", o.factor);
        detail::put_int(out, "patience", o.patience);
        detail::put_real(out, "threshold", o.threshold);
        detail::put_int(out, "threshold_mode", o.threshold_mode == plateau_threshold::rel ? 0 : 1);
        detail::put_int(out, "cooldown", o.cooldown);
        detail::put_reals(out, "min_lrs", min_lrs_);
        detail::put_real(out, "eps", o.eps);
        detail::put_real(out, "best", best_);
        detail::put_int(out, "num_bad_epochs", num_bad_epochs_);
        detail::put_int(out, "cooldown_counter", cooldown_counter_);
        detail::put_int(out, "last_epoch", last_epoch);
        detail::put_reals(out, "_last_lr", last_lr_);
        return out;
    }

    void load_state_dict(const io::tensor_map& in) {
        const char* n = name();
        const std::size_t groups = min_lrs_.size();
        detail::check_saved_groups(n, in, "min_lrs", groups);
        reduce_lr_on_plateau_options o;
        o.mode = detail::get_int(n, in, "mode") == 0 ? plateau_mode::min : plateau_mode::max;
        o.factor = detail::get_real(n, in, "factor");
        o.patience = detail::get_int(n, in, "patience");
        o.threshold = detail::get_real(n, in, "threshold");
        o.threshold_mode =
            detail::get_int(n, in, "threshold_mode") == 0 ? plateau_threshold::rel : plateau_threshold::abs;
        o.cooldown = detail::get_int(n, in, "cooldown");
        o.min_lrs = detail::get_reals(n, in, "min_lrs", groups);
        o.eps = detail::get_real(n, in, "eps");
        // Everything is read before anything changes, so a state dict that does not fit changes nothing.
        const double best = detail::get_real(n, in, "best");
        const std::int64_t bad = detail::get_int(n, in, "num_bad_epochs");
        const std::int64_t cooldown = detail::get_int(n, in, "cooldown_counter");
        const std::int64_t epoch = detail::get_int(n, in, "last_epoch");
        std::vector<double> last = detail::get_reals(n, in, "_last_lr", groups);
        set_options(std::move(o));
        best_ = best;
        num_bad_epochs_ = bad;
        cooldown_counter_ = cooldown;
        last_epoch = epoch;
        last_lr_ = std::move(last);
    }

private:
    void set_options(reduce_lr_on_plateau_options o) {
        using detail::real_text;
        using detail::scheduler_option_error;
        if (!(o.factor >= 0 && o.factor < 1))
            scheduler_option_error(name(), "factor must lie in [0, 1), got " + real_text(o.factor));
        if (o.patience < 0)
            scheduler_option_error(name(), "patience must be a non-negative number of epochs, got " +
                                               std::to_string(o.patience));
        if (!(o.threshold >= 0) || !std::isfinite(o.threshold))
            scheduler_option_error(name(), "threshold must be non-negative, got " + real_text(o.threshold));
        if (o.cooldown < 0)
            scheduler_option_error(name(), "cooldown must be a non-negative number of epochs, got " +
                                               std::to_string(o.cooldown));
        if (!(o.eps >= 0) || !std::isfinite(o.eps))
            scheduler_option_error(name(), "eps must be non-negative, got " + real_text(o.eps));
        const std::size_t groups = opt_->param_groups().size();
        if (o.min_lrs.empty()) {
            o.min_lrs.assign(groups, o.min_lr);
        } else if (o.min_lrs.size() != groups) {
            scheduler_option_error(name(), "min_lrs has " + std::to_string(o.min_lrs.size()) +
                                               " values but the optimiser has " + std::to_string(groups) +
                                               " parameter groups");
        }
        for (const double m : o.min_lrs)
            if (!(m >= 0) || !std::isfinite(m))
                scheduler_option_error(name(), "min_lr must be a non-negative rate, got " + real_text(m));
        min_lrs_ = o.min_lrs;
        options_ = std::move(o);
    }

    void reset() {
        best_ = options_.mode == plateau_mode::min ? std::numeric_limits<double>::infinity()
                                                   : -std::numeric_limits<double>::infinity();
        cooldown_counter_ = 0;
        num_bad_epochs_ = 0;
    }

    bool is_better(double a) const {
        const double t = options_.threshold;
        const bool rel = options_.threshold_mode == plateau_threshold::rel;
        if (options_.mode == plateau_mode::min) return rel ? a < best_ * (1. - t) : a < best_ - t;
        return rel ? a > best_ * (t + 1.) : a > best_ + t;
    }

    Optimiser* opt_;
    reduce_lr_on_plateau_options options_;
    std::vector<double> min_lrs_;
    std::vector<double> last_lr_;
    double best_ = 0;
    std::int64_t num_bad_epochs_ = 0;
    std::int64_t cooldown_counter_ = 0;
};

}  // namespace katachi::optim
