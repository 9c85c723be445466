// katachi/eager/modules/lazy.hpp: lazy modules, whose input size is fixed by the first input.
//
// lazy_linear, lazy_conv1d, lazy_conv2d, lazy_conv_transpose2d, lazy_batch_norm1d and
// lazy_batch_norm2d take their concrete layer's options without the input size (in_features,
// in_channels, num_features). Until materialised their parameters are uninitialized
// (has_uninitialized_params(); reading them throws an error naming the parameter by its path in
// the model, "features.2.weight", or as "lazy_conv2d.weight" while the module stands alone).
// state_dict() lists them, marked uninitialized, as PyTorch lists UninitializedParameters.
// They are materialised, and default-initialised as the concrete layer is, by
//   - the first forward (initialize_parameters(input) then the concrete forward), or
//   - materialize(input_shape): shape arithmetic only, no data, no kernel, all modules or none, or
//   - load_state_dict: the loaded shapes fix the input size, then the values are copied in.
// An initializer given at construction runs right after materialisation (an init function applied
// before it throws). A lazy module *is* its concrete layer (lazy_conv2d derives from conv2d), and
// once materialised it answers, prints and saves as that layer: type_name() "conv2d", the same
// extra_repr, the same state dict keys.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

#include "katachi/eager/modules/batch_norm.hpp"
#include "katachi/eager/random.hpp"
#include "katachi/eager/modules/conv.hpp"
#include "katachi/eager/modules/linear.hpp"

namespace katachi::eager::nn {

// PyTorch's LazyModuleMixin over a concrete layer, which provides the hooks lazy_name,
// lazy_input_size(input shape), lazy_size_from(state, prefix) and lazy_materialize(input size).
template <class Concrete>
class lazy : public Concrete {
public:
    using options_type = typename Concrete::options_type;
    using initializer = std::function<void(Concrete&)>;

    explicit lazy(const options_type& o = {}, initializer init = {})
        : Concrete(lazy_init_t{}, o), initializer_(std::move(init)) {}

    std::string type_name() const override {
        return materialized_ ? Concrete::type_name() : Concrete::lazy_name;
    }

    tensor forward(const tensor& x) override {
        if (!materialized_) initialize_parameters(x);
        return Concrete::forward(x);
    }

    // Materialises from an input (its shape only; the values are not read).
    void initialize_parameters(const tensor& input) {
        materialize_with(Concrete::lazy_input_size(input.shape()));
    }

    sizes output_shape(const sizes& input) const override {
        if (!materialized_)
            throw std::logic_error(std::string(Concrete::lazy_name) +
                                   ": the output shape is unknown until the module is materialised; call "
                                   "materialize(input_shape)");
        return Concrete::output_shape(input);
    }

protected:
    void materialize_own(const sizes& input) override {
        if (!materialized_) materialize_with(Concrete::lazy_input_size(input));
    }

    // Materialises from the shapes in `state` (undone if the load fails, the default generator's
    // draws included), then lets the concrete layer check and plan its copy.
    void load_own_state(const std::string& prefix, const state_map& state, load_plan& plan) override {
        if (!materialized_)
            if (const auto size = this->lazy_size_from(state, prefix)) {
                for (const auto& [name, t] : this->named_parameters(false)) plan.keep(t);
                for (const auto& [name, t] : this->named_buffers(false)) plan.keep(t);
                plan.on_failure([this, options = this->options, draws = default_generator()] {
                    this->options = options;
                    default_generator() = draws;
                    materialized_ = false;
                });
                materialize_with(*size);
            }
        Concrete::load_own_state(prefix, state, plan);
    }

private:
    void materialize_with(std::size_t input_size) {
        // Inside materialize(), undone if any module fails (the tensors undo themselves).
        detail::on_materialize_failure([this, options = this->options, draws = default_generator()] {
            this->options = options;
            default_generator() = draws;
            materialized_ = false;
        });
        this->lazy_materialize(input_size);
        materialized_ = true;
        if (initializer_) initializer_(*this);
    }

    initializer initializer_;
    bool materialized_ = false;
};

class lazy_linear : public lazy<linear> {
public:
    using lazy<linear>::lazy;
};
class lazy_conv1d : public lazy<conv1d> {
public:
    using lazy<conv1d>::lazy;
};
class lazy_conv2d : public lazy<conv2d> {
public:
    using lazy<conv2d>::lazy;
};
class lazy_conv_transpose2d : public lazy<conv_transpose2d> {
public:
    using lazy<conv_transpose2d>::lazy;
};
class lazy_batch_norm1d : public lazy<batch_norm1d> {
public:
    using lazy<batch_norm1d>::lazy;
};
class lazy_batch_norm2d : public lazy<batch_norm2d> {
public:
    using lazy<batch_norm2d>::lazy;
};

}  // namespace katachi::eager::nn
