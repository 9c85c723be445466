// katachi/optim/sequential_lr.hpp: torch.optim.lr_scheduler.SequentialLR, schedulers one after another.
//
// The usual warm-up then cosine:
//
//   optim::sequential_lr sched(opt,
//       std::tuple{optim::linear_lr(opt, {.start_factor = 0.1, .total_iters = 5}),
//                  optim::cosine_annealing_lr(opt, {.T_max = 95})},
//       {.milestones = {5}});
//
// As in PyTorch: the build puts every group back to its initial_lr and starts the first scheduler
// again; at each milestone the next scheduler starts from epoch 0 (its closed form there, so the
// cosine above starts at the initial rate), and in between the current scheduler steps. Every
// scheduler must drive `opt`; reduce_lr_on_plateau cannot take part (its step takes a metric).
// The schedulers are held by value (moved in); schedulers() reaches them.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <katachi/optim/lr_scheduler_base.hpp>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace katachi::optim {

struct sequential_lr_options {
    std::vector<std::int64_t> milestones = {};  // one fewer than the schedulers, increasing
};

namespace detail {

// The schedulers derived from detail::lr_scheduler (every one but reduce_lr_on_plateau).
template <class S>
concept epoch_scheduler = requires(S& s) {
    typename S::optimiser_type;
    requires std::derived_from<S, lr_scheduler<S, typename S::optimiser_type>>;
};

}  // namespace detail

template <scheduled_optimiser Optimiser, class... Schedulers>
class sequential_lr {
    static_assert(sizeof...(Schedulers) > 0, "sequential_lr: give at least one scheduler");
    static_assert((detail::epoch_scheduler<Schedulers> && ...),
                  "sequential_lr: takes the epoch-based schedulers (not reduce_lr_on_plateau)");

public:
    sequential_lr(Optimiser& opt, std::tuple<Schedulers...> schedulers, sequential_lr_options options)
        : opt_(&opt), schedulers_(std::move(schedulers)), milestones_(std::move(options.milestones)) {
        check();
        auto& groups = opt.param_groups();
        const std::vector<double>& first_base = std::get<0>(schedulers_).base_lrs();
        for (std::size_t g = 0; g < groups.size() && g < first_base.size(); ++g) {
            groups[g].options.lr = first_base[g];
            if constexpr (requires { *groups[g].initial_lr; })
                if (groups[g].initial_lr) groups[g].options.lr = *groups[g].initial_lr;
        }
        std::apply([](auto&... s) { (--s.last_epoch, ...); }, schedulers_);
        std::get<0>(schedulers_).initial_step();
        last_lr_ = std::get<0>(schedulers_).get_last_lr();
    }

    // PyTorch's last_epoch: step() calls since the build.
    std::int64_t last_epoch = 0;

    void step() {
        ++last_epoch;
        std::size_t index = 0;  // the schedulers passed: milestones <= last_epoch
        while (index < milestones_.size() && milestones_[index] <= last_epoch) ++index;
        const bool starts = index > 0 && milestones_[index - 1] == last_epoch;
        at(index, [&](auto& s) {
            if (starts)
                s.restart();
            else
                s.step();
            last_lr_ = s.get_last_lr();
        });
    }

    const std::vector<double>& get_last_lr() const noexcept { return last_lr_; }
    const std::vector<std::int64_t>& milestones() const noexcept { return milestones_; }
    std::tuple<Schedulers...>& schedulers() noexcept { return schedulers_; }
    Optimiser& optimizer() const noexcept { return *opt_; }
    static const char* name() noexcept { return "sequential_lr"; }

    // PyTorch's keys: "last_epoch", "_milestones", "_last_lr.<g>", and scheduler i's under
    // "_schedulers.<i>.".
    io::tensor_map state_dict() const {
        io::tensor_map out;
        detail::put_int(out, "last_epoch", last_epoch);
        if (!milestones_.empty())
            out.insert_or_assign("_milestones",
                                 io::tensor::from<std::int64_t>(std::span<const std::int64_t>(milestones_),
                                                                {milestones_.size()}));
        detail::put_reals(out, "_last_lr", last_lr_);
        std::size_t i = 0;
        std::apply(
            [&](const auto&... s) {
                ((prefixed(out, "_schedulers." + std::to_string(i++) + ".", s.state_dict())), ...);
            },
            schedulers_);
        return out;
    }

    void load_state_dict(const io::tensor_map& in) {
        const std::size_t groups = last_lr_.size();
        detail::check_saved_groups(name(), in, "_last_lr", groups);
        std::vector<std::int64_t> milestones;
        if (const auto it = in.find("_milestones"); it != in.end()) {
            const auto m = it->second.as<std::int64_t>();
            milestones.assign(m.begin(), m.end());
        }
        if (milestones.size() != milestones_.size())
            KATACHI_THROW(std::runtime_error, std::string(name()) + ": load_state_dict: the state dict has " +
                                                  std::to_string(milestones.size() + 1) +
                                                  " schedulers but this one has " +
                                                  std::to_string(milestones_.size() + 1));
        std::size_t i = 0;
        std::apply(
            [&](auto&... s) {
                (s.load_state_dict(unprefixed(in, "_schedulers." + std::to_string(i++) + ".")), ...);
            },
            schedulers_);
        milestones_ = std::move(milestones);
        last_epoch = detail::get_int(name(), in, "last_epoch");
        last_lr_ = detail::get_reals(name(), in, "_last_lr", groups);
    }

private:
    void check() const {
        if (milestones_.size() + 1 != sizeof...(Schedulers))
            detail::scheduler_option_error(name(), "takes one milestone fewer than schedulers, got " +
                                                       std::to_string(sizeof...(Schedulers)) +
                                                       " schedulers and " +
                                                       std::to_string(milestones_.size()) + " milestones");
        for (std::size_t i = 1; i < milestones_.size(); ++i)
            if (milestones_[i] <= milestones_[i - 1])
                detail::scheduler_option_error(name(), "milestones must be increasing, got " +
                                                           std::to_string(milestones_[i]) + " after " +
                                                           std::to_string(milestones_[i - 1]));
        std::size_t i = 0;
        std::apply(
            [&](const auto&... s) {
                ((&s.optimizer() != opt_
                      ? detail::scheduler_option_error(
                            name(), "scheduler " + std::to_string(i) + " drives another optimiser")
                      : void(),
                  ++i),
                 ...);
            },
            schedulers_);
    }

    template <class F>
    void at(std::size_t index, F&& f) {
        std::size_t i = 0;
        std::apply([&](auto&... s) { ((i++ == index ? f(s) : void()), ...); }, schedulers_);
    }

    static void prefixed(io::tensor_map& out, const std::string& prefix, io::tensor_map state) {
        for (auto& [key, value] : state) out.insert_or_assign(prefix + key, std::move(value));
    }
    static io::tensor_map unprefixed(const io::tensor_map& in, const std::string& prefix) {
        io::tensor_map out;
        for (const auto& [key, value] : in)
            if (key.compare(0, prefix.size(), prefix) == 0)
                out.insert_or_assign(key.substr(prefix.size()), value);
        return out;
    }

    Optimiser* opt_;
    std::tuple<Schedulers...> schedulers_;
    std::vector<std::int64_t> milestones_;
    std::vector<double> last_lr_;
};

}  // namespace katachi::optim
