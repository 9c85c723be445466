// The linear layer.
#include "katachi/eager/modules/linear.hpp"

#include "katachi/eager/functional/layers.hpp"
#include "katachi/eager/modules/init.hpp"
#include "op_module.hpp"

namespace katachi::eager::nn {

linear::linear(const linear_options& o) : options(o) {
    weight = parameter(register_parameter("weight", tensor::empty({o.out_features, o.in_features})));
    if (o.bias) bias = parameter(register_parameter("bias", tensor::empty({o.out_features})));
    reset_parameters();
}

linear::linear(lazy_init_t, const linear_options& o) : options(o) {
    options.in_features = 0;
    weight = parameter(
        register_parameter("weight", detail::uninitialized_parameter(std::string(lazy_name) + ".weight")));
    if (o.bias)
        bias = parameter(
            register_parameter("bias", detail::uninitialized_parameter(std::string(lazy_name) + ".bias")));
}

void linear::reset_parameters() {
    detail::reset_op<ops::linear>(options, {weight, bias}, {});
}

tensor linear::forward(const tensor& x) {
    return eager::linear(x, weight, bias);
}

sizes linear::output_shape(const sizes& input) const {
    return detail::op_output_shape<ops::linear>(type_name(), options, input);
}

std::string linear::extra_repr() const {
    const std::string in = weight.is_uninitialized() ? "uninitialized" : std::to_string(options.in_features);
    return "in_features=" + in + ", out_features=" + std::to_string(options.out_features) +
           ", bias=" + (options.bias ? "true" : "false");
}

std::size_t linear::lazy_input_size(const sizes& input) {
    if (input.empty()) throw shape_mismatch("lazy_linear: the input has shape [], expected [*, in_features]");
    return input.back();
}

std::optional<std::size_t> linear::lazy_size_from(const state_map& state, const std::string& prefix) const {
    const auto it = state.find(prefix + "weight");
    if (it == state.end() || it->second.shape.size() != 2) return std::nullopt;
    return it->second.shape[1];
}

void linear::lazy_materialize(std::size_t in_features) {
    options.in_features = in_features;
    detail::materialize_tensor(weight, {options.out_features, in_features});
    if (bias.defined()) detail::materialize_tensor(bias, {options.out_features});
    reset_parameters();
}

}  // namespace katachi::eager::nn
