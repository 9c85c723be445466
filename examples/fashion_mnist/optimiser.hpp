// examples/fashion_mnist/optimiser.hpp: one of katachi's optimisers, chosen by name at run time.
#pragma once

#include <katachi/eager/optimiser_state.hpp>
#include <katachi/io/safetensors.hpp>
#include <katachi/optim/adam.hpp>
#include <katachi/optim/sgd.hpp>
#include <stdexcept>
#include <utility>
#include <variant>
#include <vector>

#include "face.hpp"

namespace fashion_mnist {

class any_optimiser {
public:
    any_optimiser(std::vector<katachi::optim::parameter<float>> params, const optimiser_options& o)
        : impl_(make(std::move(params), o)) {}

    void step() {
        std::visit([](auto& opt) { opt.step(); }, impl_);
    }
    void zero_grad() {
        std::visit([](auto& opt) { opt.zero_grad(); }, impl_);
    }
    void set_learning_rate(double lr) {
        std::visit(
            [lr](auto& opt) {
                for (auto& group : opt.param_groups()) group.options.lr = lr;
            },
            impl_);
    }

    // The optimiser's state dict (katachi::eager::optimiser_state_dict's keys) and its restoration
    // into an optimiser of the same kind built over the same parameters.
    katachi::io::tensor_map state_dict() const {
        return std::visit([](const auto& opt) { return katachi::eager::optimiser_state_dict(opt); }, impl_);
    }
    void load_state_dict(const katachi::io::tensor_map& state) {
        std::visit([&state](auto& opt) { katachi::eager::load_optimiser_state_dict(opt, state); }, impl_);
    }

private:
    using variant =
        std::variant<katachi::optim::sgd<float>, katachi::optim::adam<float>, katachi::optim::adamw<float>>;

    static variant make(std::vector<katachi::optim::parameter<float>> params, const optimiser_options& o) {
        if (o.name == "sgd")
            return katachi::optim::sgd<float>(
                std::move(params),
                {.lr = o.lr, .momentum = o.momentum, .weight_decay = o.weight_decay.value_or(0)});
        if (o.name == "adam") {
            katachi::optim::adam_options a;
            a.lr = o.lr;
            if (o.weight_decay) a.weight_decay = *o.weight_decay;
            return katachi::optim::adam<float>(std::move(params), a);
        }
        if (o.name == "adamw") {
            katachi::optim::adamw_options a;
            a.lr = o.lr;
            if (o.weight_decay) a.weight_decay = *o.weight_decay;
            return katachi::optim::adamw<float>(std::move(params), a);
        }
        throw std::invalid_argument("unknown optimiser '" + o.name + "' (choose sgd, adam or adamw)");
    }

    variant impl_;
};

}  // namespace fashion_mnist
