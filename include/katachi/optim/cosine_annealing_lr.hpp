// katachi/optim/cosine_annealing_lr.hpp: torch.optim.lr_scheduler.CosineAnnealingLR.
//
//   closed form: lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2
//   stepped as PyTorch steps it, from the optimiser's current rate (so it chains with other changes):
//     epoch 0:                         lr
//     (epoch - 1 - T_max) % 2T_max = 0: lr + (base_lr - eta_min) (1 - cos(pi / T_max)) / 2
//     otherwise:                       eta_min + (lr - eta_min) (1 + cos(pi e / T)) / (1 + cos(pi (e - 1) /
//     T))
//   Past T_max the rate rises again (PyTorch's curve is periodic, period 2 T_max).
//
//   optim::cosine_annealing_lr sched(opt, {.T_max = total_steps});   // sched.step() after each batch
#pragma once

#include <cmath>
#include <cstdint>
#include <katachi/optim/lr_scheduler_base.hpp>
#include <numbers>
#include <string>

namespace katachi::optim {

struct cosine_annealing_lr_options {
    std::int64_t T_max = 0;  // required: epochs (or steps) from base_lr down to eta_min
    double eta_min = 0;
};

namespace detail {

inline void check_options(const cosine_annealing_lr_options& o) {
    if (o.T_max <= 0)
        detail::scheduler_option_error(
            "cosine_annealing_lr",
            "T_max must be a positive number of epochs, got " + std::to_string(o.T_max));
    if (!(o.eta_min >= 0) || !std::isfinite(o.eta_min))
        detail::scheduler_option_error("cosine_annealing_lr", "eta_min must be a non-negative rate, got " +
                                                                  detail::real_text(o.eta_min));
}

}  // namespace detail

// The rate at `epoch` of the schedule that starts at base_lr, in closed form (PyTorch's
// _get_closed_form_lr), for a loop that sets the rate itself (e.g. over graph::static_model's update
// rules, without an optimiser object); the scheduler below steps to the same rates:
//   eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2
inline double lr_at(const cosine_annealing_lr_options& o, double base_lr, std::int64_t epoch) {
    detail::check_options(o);
    return o.eta_min +
           (base_lr - o.eta_min) *
               (1 + std::cos(std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(o.T_max))) /
               2;
}

template <scheduled_optimiser Optimiser>
class cosine_annealing_lr : public detail::lr_scheduler<cosine_annealing_lr<Optimiser>, Optimiser> {
    using base = detail::lr_scheduler<cosine_annealing_lr<Optimiser>, Optimiser>;
    friend base;

public:
    cosine_annealing_lr(Optimiser& opt, cosine_annealing_lr_options options);

    const cosine_annealing_lr_options& options() const noexcept { return options_; }
    static const char* name() noexcept { return "cosine_annealing_lr"; }

private:
    double next_lr(std::size_t g, double lr) const {
        constexpr double pi = std::numbers::pi;
        const std::int64_t e = this->last_epoch, T = options_.T_max;
        const double eta_min = options_.eta_min, t = static_cast<double>(T);
        const double base_lr = this->base_lrs_[g];
        if (e == 0) return lr;
        if ((e - 1 - T) % (2 * T) == 0) return lr + (base_lr - eta_min) * (1 - std::cos(pi / t)) / 2;
        return (1 + std::cos(pi * static_cast<double>(e) / t)) /
                   (1 + std::cos(pi * static_cast<double>(e - 1) / t)) * (lr - eta_min) +
               eta_min;
    }
    double closed_form_lr(std::size_t g) const {
        return lr_at(options_, this->base_lrs_[g], this->last_epoch);
    }
    void put_options(io::tensor_map& out) const {
        detail::put_int(out, "T_max", options_.T_max);
        detail::put_real(out, "eta_min", options_.eta_min);
    }
    void get_options(const io::tensor_map& in) {
        cosine_annealing_lr_options o;
        o.T_max = detail::get_int(name(), in, "T_max");
        o.eta_min = detail::get_real(name(), in, "eta_min");
        detail::check_options(o);
        options_ = o;
    }

    cosine_annealing_lr_options options_;
};

template <scheduled_optimiser Optimiser>
cosine_annealing_lr<Optimiser>::cosine_annealing_lr(Optimiser& opt, cosine_annealing_lr_options options)
    : base(opt), options_(options) {
    detail::check_options(options);
    this->initial_step();
}

}  // namespace katachi::optim

// A program compiled with KATACHI_EXTERN_KERNELS (katachi/instances.hpp) takes the schedule over
// float's Adam, AdamW and SGD from libkatachi (src/instances.cpp).
#define KATACHI_COSINE_ANNEALING_LR_INSTANCES(EXTERN)                                            \
    EXTERN template class detail::lr_scheduler<cosine_annealing_lr<adam<float>>, adam<float>>;   \
    EXTERN template class cosine_annealing_lr<adam<float>>;                                      \
    EXTERN template class detail::lr_scheduler<cosine_annealing_lr<adamw<float>>, adamw<float>>; \
    EXTERN template class cosine_annealing_lr<adamw<float>>;                                     \
    EXTERN template class detail::lr_scheduler<cosine_annealing_lr<sgd<float>>, sgd<float>>;     \
    EXTERN template class cosine_annealing_lr<sgd<float>>;
#if defined(KATACHI_EXTERN_KERNELS)
#include <katachi/optim/adam.hpp>
#include <katachi/optim/sgd.hpp>
namespace katachi::optim {
KATACHI_COSINE_ANNEALING_LR_INSTANCES(extern)
}  // namespace katachi::optim
#endif
