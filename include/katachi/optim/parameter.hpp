// katachi/optim/parameter.hpp: what an optimiser steps, for both faces.
//
// A parameter is seen through two callables that return its current value and gradient storage.
// The graph face's storage never moves (parameter::fixed); the eager face's lazy parameters get
// storage only at materialisation, so an optimiser built before the first forward still steps them.
// An empty gradient span means "no gradient this step" and the parameter is skipped, as PyTorch
// skips a parameter whose .grad is None.
#pragma once

#include <katachi/error.hpp>
#include <cmath>
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace katachi::optim {

template <class T = float>
struct parameter {
    std::string name;
    std::function<std::span<T>()> value;
    std::function<std::span<T>()> grad;

    // A parameter whose value and gradient live in memory that never moves.
    static parameter fixed(std::string name, std::span<T> value, std::span<T> grad) {
        return {std::move(name), [value] { return value; }, [grad] { return grad; }};
    }
};

// A group of parameters sharing one set of options, as in PyTorch's param_groups.
template <class T, class Options>
struct param_group {
    std::vector<parameter<T>> params;
    Options options;
    // PyTorch's initial_lr: the rate a learning-rate scheduler starts from, set by the first
    // scheduler built over the group (katachi/optim/lr_scheduler.hpp), so that schedulers chained
    // on one optimiser share it.
    std::optional<double> initial_lr = std::nullopt;
};

namespace detail {

inline void require_finite_rate(const char* optimiser, double lr) {
    if (!(lr >= 0) || !std::isfinite(lr))
        KATACHI_THROW(std::invalid_argument, std::string(optimiser) + ": invalid learning rate " + std::to_string(lr));
}

// Per-parameter state buffers, allocated at the parameter's first step (PyTorch creates its state
// lazily too) and checked against the parameter's size at every later step.
template <class T>
std::vector<T>& state_buffer(std::vector<T>& buffer, std::size_t size, const char* optimiser,
                             const std::string& name) {
    if (buffer.empty())
        buffer.assign(size, T(0));
    else if (buffer.size() != size)
        KATACHI_THROW(std::logic_error, std::string(optimiser) + ": parameter '" + name + "' changed size from " +
                               std::to_string(buffer.size()) + " to " + std::to_string(size));
    return buffer;
}

template <class T>
void check_sizes(const char* optimiser, const std::string& name, std::span<T> value, std::span<T> grad) {
    if (grad.size() != value.size())
        KATACHI_THROW(std::logic_error, std::string(optimiser) + ": parameter '" + name + "' has " +
                               std::to_string(value.size()) + " elements but its gradient has " +
                               std::to_string(grad.size()));
}

}  // namespace detail

// Sets every gradient of the groups to zero (PyTorch 1.13's zero_grad(set_to_none=False)).
template <class Groups>
void zero_grad(Groups& groups) {
    for (auto& group : groups)
        for (auto& p : group.params)
            for (auto& g : p.grad()) g = 0;
}

}  // namespace katachi::optim
