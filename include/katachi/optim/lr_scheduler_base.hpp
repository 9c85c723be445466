// katachi/optim/lr_scheduler_base.hpp: what the learning-rate schedulers share.
//
// A scheduler holds a reference to an optimiser (sgd, adam, adamw, or any class whose
// param_groups()[g].options has an lr) and sets the rate of each parameter group when it steps,
// as torch.optim.lr_scheduler does: build it after the optimiser (the build is PyTorch's initial
// step, last_epoch 0), then call optimiser.step() and scheduler.step() once per epoch or batch.
// The scheduler keeps a pointer to the optimiser, which must outlive it.
// The epoch-based schedulers use PyTorch's recursive (chainable) forms: the next rate is computed
// from the rate the optimiser holds now, in PyTorch's order of operations, so the sequence is
// PyTorch's (test_lr_scheduler holds it to 1e-7 relative). Like PyTorch they start from each
// group's initial_lr, which the first scheduler built over the group sets, so schedulers chained
// on one optimiser (sequential_lr) agree; lr_at(options, base_lr, epoch) is the closed form.
//
// The state dict follows the optimisers' (katachi/eager/optimiser_state.hpp): torch's
// scheduler.state_dict() flattened for safetensors, one rank-0 entry per number (counts and
// integer options as int64, rates and real options as float64; per group "base_lrs.<g>",
// "_last_lr.<g>"), so it is saved with io::save_safetensors and loaded back from
// io::load_safetensors(path).tensors. Loading restores the options and the counters (PyTorch's
// load_state_dict updates the whole object); the optimiser's rates come back with the optimiser's
// own state dict, as in PyTorch: build the scheduler, then load both.
//
// Errors go through KATACHI_THROW; a step allocates nothing.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <katachi/error.hpp>
#include <katachi/io/safetensors/tensor.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace katachi::optim {

// An optimiser a scheduler can drive: parameter groups whose options hold the learning rate.
template <class O>
concept scheduled_optimiser = requires(O& o) {
    { o.param_groups().size() } -> std::convertible_to<std::size_t>;
    { o.param_groups()[0].options.lr } -> std::convertible_to<double>;
};

namespace detail {

// A real number as %g writes it, for error sentences.
inline std::string real_text(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

[[noreturn]] inline void scheduler_option_error(const char* scheduler, const std::string& sentence) {
    KATACHI_THROW(std::invalid_argument, std::string(scheduler) + ": " + sentence);
}

// The state dict's helpers take the map as a template parameter (always io::tensor_map), so that
// the tensors' templates are instantiated only in a program that saves or loads a scheduler.
template <class Map>
void put_real(Map& out, const std::string& key, double v) {
    out.insert_or_assign(key, Map::mapped_type::template from<double>(std::span<const double>(&v, 1), {}));
}
template <class Map>
void put_int(Map& out, const std::string& key, std::int64_t v) {
    out.insert_or_assign(
        key, Map::mapped_type::template from<std::int64_t>(std::span<const std::int64_t>(&v, 1), {}));
}
// One entry per parameter group: "<name>.<g>".
template <class Map>
void put_reals(Map& out, const std::string& name, const std::vector<double>& v) {
    for (std::size_t g = 0; g < v.size(); ++g) put_real(out, name + "." + std::to_string(g), v[g]);
}

template <class Map>
const typename Map::mapped_type& state_entry(const char* scheduler, const Map& in, const std::string& key) {
    const auto it = in.find(key);
    if (it == in.end())
        KATACHI_THROW(std::runtime_error,
                      std::string(scheduler) + ": load_state_dict: the state dict lacks \"" + key + "\"");
    return it->second;
}
template <class Map>
double get_real(const char* scheduler, const Map& in, const std::string& key) {
    return *state_entry(scheduler, in, key).template as<double>().begin();
}
template <class Map>
std::int64_t get_int(const char* scheduler, const Map& in, const std::string& key) {
    return *state_entry(scheduler, in, key).template as<std::int64_t>().begin();
}
template <class Map>
std::vector<double> get_reals(const char* scheduler, const Map& in, const std::string& name,
                              std::size_t groups) {
    std::vector<double> v(groups);
    for (std::size_t g = 0; g < groups; ++g) v[g] = get_real(scheduler, in, name + "." + std::to_string(g));
    return v;
}

// The number of groups a state dict was saved with ("<name>.0", "<name>.1", ...), checked against
// the optimiser's.
template <class Map>
void check_saved_groups(const char* scheduler, const Map& in, const std::string& name, std::size_t groups) {
    std::size_t saved = 0;
    while (in.count(name + "." + std::to_string(saved))) ++saved;
    if (saved != groups)
        KATACHI_THROW(std::runtime_error, std::string(scheduler) + ": load_state_dict: the state dict has " +
                                              std::to_string(saved) +
                                              " parameter groups but the optimiser has " +
                                              std::to_string(groups));
}

inline void check_group_count(const char* scheduler, std::size_t built, std::size_t now) {
    if (built != now)
        KATACHI_THROW(std::logic_error,
                      std::string(scheduler) + ": the optimiser has " + std::to_string(now) +
                          " parameter groups but the scheduler was built over " + std::to_string(built) +
                          "; build the scheduler after the last add_param_group");
}

template <class Derived, scheduled_optimiser Optimiser>
class lr_scheduler;

}  // namespace detail

template <scheduled_optimiser Optimiser, class... Schedulers>
class sequential_lr;

namespace detail {

// The epoch-based schedulers: Derived supplies name(), next_lr(group, current rate) (called with
// last_epoch already advanced), put_options(map) and get_options(map), and may hide before_step()
// and supply closed_form_lr(group), the rate at last_epoch from base_lrs alone.
template <class Derived, scheduled_optimiser Optimiser>
class lr_scheduler {
    template <scheduled_optimiser O, class... S>
    friend class optim::sequential_lr;

public:
    using optimiser_type = Optimiser;

    // PyTorch's last_epoch: the number of step() calls since the build (0 right after it).
    std::int64_t last_epoch = -1;

    // The rate of each parameter group that the last step (or the build) set.
    const std::vector<double>& get_last_lr() const noexcept { return last_lr_; }
    // The rates the schedule starts from (PyTorch's base_lrs, each group's initial_lr).
    const std::vector<double>& base_lrs() const noexcept { return base_lrs_; }
    Optimiser& optimizer() const noexcept { return *opt_; }

    // Defined after the class (not inline), like the derived constructors, so that
    // KATACHI_EXTERN_KERNELS can take common schedulers' instances from libkatachi.
    void step();

    io::tensor_map state_dict() const {
        io::tensor_map out;
        put_int(out, "last_epoch", last_epoch);
        put_int(out, "_step_count", step_count_);
        put_reals(out, "base_lrs", base_lrs_);
        put_reals(out, "_last_lr", last_lr_);
        self().put_options(out);
        return out;
    }

    // Restores a state dict saved from a scheduler of the same kind over as many parameter groups.
    void load_state_dict(const io::tensor_map& in) {
        const char* name = Derived::name();
        const std::size_t groups = base_lrs_.size();
        check_saved_groups(name, in, "base_lrs", groups);
        // Everything is read before anything changes, so a state dict that does not fit changes nothing.
        const std::int64_t epoch = get_int(name, in, "last_epoch"), count = get_int(name, in, "_step_count");
        std::vector<double> base = get_reals(name, in, "base_lrs", groups);
        std::vector<double> last = get_reals(name, in, "_last_lr", groups);
        self().get_options(in);
        last_epoch = epoch;
        step_count_ = count;
        base_lrs_ = std::move(base);
        last_lr_ = std::move(last);
    }

protected:
    explicit lr_scheduler(Optimiser& opt) : opt_(&opt) {
        for (auto& group : opt.param_groups()) {
            double initial = static_cast<double>(group.options.lr);
            if constexpr (requires { group.initial_lr = 1.0; }) {
                if (!group.initial_lr) group.initial_lr = initial;
                initial = *group.initial_lr;
            }
            base_lrs_.push_back(initial);
        }
        last_lr_ = base_lrs_;
    }

    // PyTorch's initial step, which the derived constructor calls once its options are checked.
    void initial_step() {
        step_count_ = 0;
        step();
    }
    // PyTorch's step(0), with which sequential_lr starts the next scheduler at a milestone: the
    // closed form at epoch 0 where the scheduler has one, else its usual step from epoch 0.
    void restart() {
        auto& groups = opt_->param_groups();
        check_group_count(Derived::name(), base_lrs_.size(), groups.size());
        ++step_count_;
        last_epoch = 0;
        for (std::size_t g = 0; g < groups.size(); ++g) {
            double lr = 0;
            if constexpr (requires(const Derived& d) { d.closed_form_lr(g); })
                lr = self().closed_form_lr(g);
            else
                lr = self().next_lr(g, static_cast<double>(groups[g].options.lr));
            groups[g].options.lr = lr;
            last_lr_[g] = lr;
        }
    }
    void before_step(std::int64_t) const {}

    // PyTorch's _step_count: step() calls including the build's.
    std::int64_t step_count_ = 0;
    std::vector<double> base_lrs_;

private:
    Derived& self() { return static_cast<Derived&>(*this); }
    const Derived& self() const { return static_cast<const Derived&>(*this); }

    Optimiser* opt_;
    std::vector<double> last_lr_;
};

template <class Derived, scheduled_optimiser Optimiser>
void lr_scheduler<Derived, Optimiser>::step() {
    auto& groups = opt_->param_groups();
    check_group_count(Derived::name(), base_lrs_.size(), groups.size());
    self().before_step(last_epoch + 1);
    ++step_count_;
    ++last_epoch;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const double lr = self().next_lr(g, static_cast<double>(groups[g].options.lr));
        groups[g].options.lr = lr;
        last_lr_[g] = lr;
    }
}

}  // namespace detail

}  // namespace katachi::optim
