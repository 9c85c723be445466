// katachi/eager/modules/layer_norm.hpp: layer normalisation over the trailing sizes
// (torch.nn.LayerNorm), the eager adaptor of katachi/ops/layer_norm.hpp.
//
//   nn::layer_norm norm({.normalized_shape = {64}});            weight 1 and bias 0 of [64]
//   nn::layer_norm plane({.normalized_shape = {7, 7}, .eps = 1e-6, .elementwise_affine = false});
#pragma once

#include <string>

#include "katachi/eager/modules/module.hpp"
#include "katachi/ops/layer_norm.hpp"

namespace katachi::eager::nn {

using layer_norm_options = ops::layer_norm_options;

class layer_norm : public module {
public:
    using options_type = layer_norm_options;
    explicit layer_norm(const layer_norm_options& o);
    std::string type_name() const override { return "layer_norm"; }
    tensor forward(const tensor& x) override;
    sizes output_shape(const sizes& input) const override;
    std::string extra_repr() const override;
    void reset_parameters();  // weight 1, bias 0

    layer_norm_options options;
    parameter weight, bias;  // normalized_shape; undefined without elementwise_affine
};

}  // namespace katachi::eager::nn
