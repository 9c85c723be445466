// katachi/optim/sgd.hpp: stochastic gradient descent as torch.optim.SGD computes it.
//
//   g = grad + weight_decay * p
//   momentum != 0:  buf = g at the first step, else buf = momentum * buf + (1 - dampening) * g
//                   g = nesterov ? g + momentum * buf : buf
//   p -= lr * g
#pragma once

#include <algorithm>
#include <cstddef>
#include <katachi/error.hpp>
#include <katachi/optim/parameter.hpp>
#include <katachi/parallel.hpp>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

namespace katachi::optim {

namespace detail {

// One parameter's update over n elements. The options are values here and the three arrays never
// overlap, so each case's loop below vectorizes; the branches are taken once per call, not per element.
template <class T>
struct sgd_rule {
    T lr, weight_decay, momentum, damp;  // damp = 1 - dampening
    bool nesterov, first;

    void apply(T* __restrict p, const T* __restrict g, T* __restrict buf, std::size_t n) const {
        if (weight_decay != 0)
            with_decay<true>(p, g, buf, n);
        else
            with_decay<false>(p, g, buf, n);
    }

private:
    template <bool Decay>
    void with_decay(T* __restrict p, const T* __restrict g, T* __restrict buf, std::size_t n) const {
        if (momentum == 0)
            run<Decay, false, false, false>(p, g, buf, n);
        else if (nesterov)
            first ? run<Decay, true, true, true>(p, g, buf, n) : run<Decay, true, false, true>(p, g, buf, n);
        else
            first ? run<Decay, true, true, false>(p, g, buf, n)
                  : run<Decay, true, false, false>(p, g, buf, n);
    }

    // buf = g at the first step (PyTorch clones it), else momentum * buf + (1 - dampening) * g.
    template <bool Decay, bool Momentum, bool First, bool Nesterov>
    void run(T* __restrict p, const T* __restrict g, T* __restrict buf, std::size_t n) const {
        const T lr_ = lr, wd = weight_decay, mu = momentum, dp = damp;
        for (std::size_t i = 0; i < n; ++i) {
            const T d = Decay ? g[i] + wd * p[i] : g[i];
            if constexpr (!Momentum) {
                p[i] -= lr_ * d;
            } else {
                const T b = First ? d : mu * buf[i] + dp * d;
                buf[i] = b;
                p[i] -= lr_ * (Nesterov ? d + mu * b : b);
            }
        }
    }
};

}  // namespace detail

struct sgd_options {
    double lr = 0.01;
    double momentum = 0;
    double dampening = 0;
    double weight_decay = 0;
    bool nesterov = false;
};

template <class T = float>
class sgd {
public:
    using group_type = param_group<T, sgd_options>;

    explicit sgd(std::vector<parameter<T>> params, sgd_options defaults = {}) : defaults_(defaults) {
        add_param_group(std::move(params), defaults);
    }

    // Adds parameters (e.g. a block appended to a growing model); the state of the others is kept.
    void add_param_group(std::vector<parameter<T>> params, sgd_options options) {
        detail::require_finite_rate("sgd", options.lr);
        if (options.momentum < 0) KATACHI_THROW(std::invalid_argument, "sgd: momentum must be non-negative");
        if (options.weight_decay < 0)
            KATACHI_THROW(std::invalid_argument, "sgd: weight_decay must be non-negative");
        if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
            KATACHI_THROW(std::invalid_argument,
                          "sgd: nesterov momentum requires a momentum and zero dampening");
        momentum_.resize(momentum_.size() + params.size());
        jobs_.reserve(momentum_.size());
        groups_.push_back({std::move(params), options});
    }
    void add_param_group(std::vector<parameter<T>> params) { add_param_group(std::move(params), defaults_); }

    // Checks every parameter first (a size mismatch throws before anything is updated), then
    // updates all their elements in one parallel loop: a model of many tensors forks once a step,
    // not once a tensor.
    void step() {
        std::size_t slot = 0, total = 0;
        jobs_.clear();
        for (auto& group : groups_) {
            const sgd_options& o = group.options;
            for (auto& p : group.params) {
                auto& buf = momentum_[slot++];
                const std::span<T> value = p.value();
                const std::span<T> grad = p.grad();
                if (grad.empty()) continue;
                detail::check_sizes("sgd", p.name, value, grad);
                const bool first = buf.empty();
                if (o.momentum != 0) detail::state_buffer(buf, value.size(), "sgd", p.name);
                const detail::sgd_rule<T> rule{static_cast<T>(o.lr),
                                               static_cast<T>(o.weight_decay),
                                               static_cast<T>(o.momentum),
                                               static_cast<T>(1 - o.dampening),
                                               o.nesterov,
                                               first};
                jobs_.push_back({rule, value.data(), grad.data(), buf.empty() ? nullptr : buf.data(), total,
                                 value.size()});
                total += value.size();
            }
        }
        // Elementwise, so the elements are split over katachi's threads, each part taking its
        // range of every tensor it overlaps.
        katachi::detail::parallel_for(total, katachi::detail::parallel_parts(total, 4 * total),
                                      [this](std::size_t begin, std::size_t end, unsigned) {
                                          for (const job& j : jobs_) {
                                              const std::size_t lo = std::max(begin, j.offset);
                                              const std::size_t hi = std::min(end, j.offset + j.count);
                                              if (lo >= hi) continue;
                                              const std::size_t at = lo - j.offset;
                                              j.rule.apply(j.value + at, j.grad + at,
                                                           j.buffer == nullptr ? nullptr : j.buffer + at,
                                                           hi - lo);
                                          }
                                      });
    }

    void zero_grad() { optim::zero_grad(groups_); }

    std::vector<group_type>& param_groups() { return groups_; }
    const std::vector<group_type>& param_groups() const { return groups_; }
    // The momentum buffer of the n-th parameter over all groups (empty before its first step).
    const std::vector<T>& momentum_buffer(std::size_t n) const { return momentum_.at(n); }
    // Restores the n-th momentum buffer when resuming from a saved state (empty: not yet stepped).
    void set_momentum_buffer(std::size_t n, std::vector<T> buffer) { momentum_.at(n) = std::move(buffer); }
    // The number of parameters over all groups.
    std::size_t parameter_count() const noexcept { return momentum_.size(); }

private:
    // One parameter's update in a step: its elements [offset, offset + count) of all the step's.
    struct job {
        detail::sgd_rule<T> rule;
        T* value;
        const T* grad;
        T* buffer;  // null without momentum
        std::size_t offset, count;
    };

    sgd_options defaults_;
    std::vector<group_type> groups_;
    std::vector<std::vector<T>> momentum_;
    std::vector<job> jobs_;  // the last step's, kept for its capacity: a step allocates nothing
};

}  // namespace katachi::optim
