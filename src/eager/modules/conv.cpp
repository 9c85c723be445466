// The convolution layers.
#include "katachi/eager/modules/conv.hpp"

#include <cmath>
#include <sstream>

#include "katachi/eager/functional/layers.hpp"
#include "katachi/eager/modules/init.hpp"
#include "katachi/kernels/conv1d.hpp"
#include "katachi/kernels/conv2d.hpp"
#include "op_module.hpp"
#include "katachi/kernels/conv_transpose2d.hpp"

namespace katachi::eager::nn {

namespace {

// Text is built with a stream: g++ 12 warns (-Wrestrict, falsely) on long chains of string + at -O3.
std::string pair_text(size2 s) {
    std::ostringstream os;
    os << '(' << s.h << ", " << s.w << ')';
    return os.str();
}


std::string in_text(const parameter& w, std::size_t in) {
    return w.is_uninitialized() ? "uninitialized" : std::to_string(in);
}

}  // namespace

// ---- shared parts ----------------------------------------------------------------------------

void conv_base::make_parameters(bool lazy, bool with_bias, const std::string& name) {
    if (lazy) {
        weight = parameter(register_parameter("weight", detail::uninitialized_parameter(name + ".weight")));
        if (with_bias)
            bias = parameter(register_parameter("bias", detail::uninitialized_parameter(name + ".bias")));
    } else {
        weight = parameter(register_parameter("weight", tensor::empty({1})));
        if (with_bias) bias = parameter(register_parameter("bias", tensor::empty({1})));
    }
}

void conv_base::check_groups(std::size_t in, std::size_t out, std::size_t groups) const {
    if (groups == 0 || in % groups != 0 || out % groups != 0)
        throw std::invalid_argument(type_name() + ": in_channels " + std::to_string(in) +
                                    " and out_channels " + std::to_string(out) +
                                    " must both be divisible by groups " + std::to_string(groups));
}

std::size_t conv_base::lazy_input_size(const sizes& input, std::size_t rank, const char* name) {
    if (input.size() != rank)
        throw shape_mismatch(std::string(name) + ": the input has shape " + input.str() + ", expected rank " +
                             std::to_string(rank) + " with channels in dimension 1");
    return input[1];
}

std::optional<std::size_t> conv_base::channels_from(const state_map& state, const std::string& prefix,
                                                    std::size_t dim, std::size_t factor) const {
    const auto it = state.find(prefix + "weight");
    if (it == state.end() || it->second.shape.size() <= dim) return std::nullopt;
    return it->second.shape[dim] * factor;
}

// ---- conv1d --------------------------------------------------------------------------------------

conv1d::conv1d(const conv1d_options& o) : options(o) {
    make_parameters(false, o.bias, lazy_name);
    lazy_materialize(o.in_channels);
}

conv1d::conv1d(lazy_init_t, const conv1d_options& o) : options(o) {
    options.in_channels = 0;
    make_parameters(true, o.bias, lazy_name);
}

void conv1d::lazy_materialize(std::size_t in) {
    check_groups(in, options.out_channels, options.groups);
    options.in_channels = in;
    detail::materialize_tensor(weight, {options.out_channels, in / options.groups, options.kernel_size});
    if (bias.defined()) detail::materialize_tensor(bias, {options.out_channels});
    reset_parameters();
}

tensor conv1d::forward(const tensor& x) {
    return eager::detail::apply<ops::conv1d, float, 1>(options, {x}, {weight, bias}, {});
}

sizes conv1d::output_shape(const sizes& input) const {
    return detail::op_output_shape<ops::conv1d>(type_name(), options, input);
}

std::string conv1d::extra_repr() const {
    std::ostringstream os;
    os << in_text(weight, options.in_channels) << ", " << options.out_channels
       << ", kernel_size=" << options.kernel_size << ", stride=" << options.stride
       << ", padding=" << options.padding;
    if (!options.bias) os << ", bias=false";
    return os.str();
}

// ---- conv2d --------------------------------------------------------------------------------------

conv2d::conv2d(const conv2d_options& o) : options(o) {
    if (o.padding_mode != ops::padding_mode::zeros)
        throw std::invalid_argument(std::string("conv2d: padding_mode '") + ops::name_of(o.padding_mode) +
                                    "' is not supported: the kernels pad with zeros (padding_mode 'zeros')");
    make_parameters(false, o.bias, lazy_name);
    lazy_materialize(o.in_channels);
}

conv2d::conv2d(lazy_init_t, const conv2d_options& o) : options(o) {
    options.in_channels = 0;
    make_parameters(true, o.bias, lazy_name);
}

void conv2d::lazy_materialize(std::size_t in) {
    check_groups(in, options.out_channels, options.groups);
    options.in_channels = in;
    detail::materialize_tensor(
        weight, {options.out_channels, in / options.groups, options.kernel_size.h, options.kernel_size.w});
    if (bias.defined()) detail::materialize_tensor(bias, {options.out_channels});
    reset_parameters();
}

tensor conv2d::forward(const tensor& x) {
    return eager::detail::apply<ops::conv2d, float, 1>(options, {x}, {weight, bias}, {});
}

sizes conv2d::output_shape(const sizes& input) const {
    return detail::op_output_shape<ops::conv2d>(type_name(), options, input);
}

std::string conv2d::extra_repr() const {
    std::ostringstream os;
    os << in_text(weight, options.in_channels) << ", " << options.out_channels
       << ", kernel_size=" << pair_text(options.kernel_size) << ", stride=" << pair_text(options.stride);
    if (!(options.padding == size2(0))) os << ", padding=" << pair_text(options.padding);
    if (options.groups != 1) os << ", groups=" << options.groups;
    if (!options.bias) os << ", bias=false";
    return os.str();
}

// ---- conv_transpose2d ------------------------------------------------------------------------------

conv_transpose2d::conv_transpose2d(const conv_transpose2d_options& o) : options(o) {
    make_parameters(false, o.bias, lazy_name);
    lazy_materialize(o.in_channels);
}

conv_transpose2d::conv_transpose2d(lazy_init_t, const conv_transpose2d_options& o) : options(o) {
    options.in_channels = 0;
    make_parameters(true, o.bias, lazy_name);
}

void conv_transpose2d::lazy_materialize(std::size_t in) {
    check_groups(in, options.out_channels, options.groups);
    options.in_channels = in;
    detail::materialize_tensor(
        weight, {in, options.out_channels / options.groups, options.kernel_size.h, options.kernel_size.w});
    if (bias.defined()) detail::materialize_tensor(bias, {options.out_channels});
    reset_parameters();
}

tensor conv_transpose2d::forward(const tensor& x) {
    return eager::detail::apply<ops::conv_transpose2d, float, 1>(options, {x}, {weight, bias}, {});
}

sizes conv_transpose2d::output_shape(const sizes& input) const {
    return detail::op_output_shape<ops::conv_transpose2d>(type_name(), options, input);
}

void conv1d::reset_parameters() {
    detail::reset_op<ops::conv1d>(options, {weight, bias}, {});
}
void conv2d::reset_parameters() {
    detail::reset_op<ops::conv2d>(options, {weight, bias}, {});
}
void conv_transpose2d::reset_parameters() {
    detail::reset_op<ops::conv_transpose2d>(options, {weight, bias}, {});
}

std::string conv_transpose2d::extra_repr() const {
    std::ostringstream os;
    os << in_text(weight, options.in_channels) << ", " << options.out_channels
       << ", kernel_size=" << pair_text(options.kernel_size) << ", stride=" << pair_text(options.stride);
    if (!(options.padding == size2(0))) os << ", padding=" << pair_text(options.padding);
    if (!(options.output_padding == size2(0))) os << ", output_padding=" << pair_text(options.output_padding);
    if (!options.bias) os << ", bias=false";
    return os.str();
}

}  // namespace katachi::eager::nn
