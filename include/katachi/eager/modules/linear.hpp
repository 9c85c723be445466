// katachi/eager/modules/linear.hpp: the fully connected layer y = x w^T + b (torch.nn.Linear), the
// eager adaptor of katachi/ops/linear.hpp.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "katachi/eager/modules/module.hpp"
#include "katachi/ops/linear.hpp"

namespace katachi::eager::nn {

// in_features, out_features, bias (katachi/ops/linear.hpp); lazy_linear ignores in_features.
using linear_options = ops::linear_options;

struct lazy_init_t {};  // selects a layer's uninitialized (lazy) constructor

class linear : public module {
public:
    using options_type = linear_options;
    explicit linear(const linear_options& o);

    std::string type_name() const override { return "linear"; }
    tensor forward(const tensor& x) override;
    sizes output_shape(const sizes& input) const override;
    std::string extra_repr() const override;
    // PyTorch's default: weight kaiming-uniform with a = sqrt(5), bias uniform +-1/sqrt(in_features).
    void reset_parameters();

    linear_options options;
    parameter weight;  // [out_features, in_features]
    parameter bias;    // [out_features]; undefined when options.bias is false

protected:
    linear(lazy_init_t, const linear_options& o);
    // The hooks lazy<linear> uses.
    static constexpr const char* lazy_name = "lazy_linear";
    static std::size_t lazy_input_size(const sizes& input);
    std::optional<std::size_t> lazy_size_from(const state_map& state, const std::string& prefix) const;
    void lazy_materialize(std::size_t in_features);
};

}  // namespace katachi::eager::nn
