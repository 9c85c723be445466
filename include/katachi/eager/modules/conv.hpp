// katachi/eager/modules/conv.hpp: conv1d, conv2d and conv_transpose2d layers (torch.nn.Conv*).
//
// Options are aggregates for designated initialisers; a 2-d size takes one number for both
// dimensions or a pair: conv2d({.in_channels = 1, .out_channels = 32, .kernel_size = 3,
// .padding = 1}) or .kernel_size = {3, 5}. Only zero padding is supported. conv2d is the eager
// adaptor of katachi/ops/conv2d.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>

#include "katachi/eager/modules/linear.hpp"
#include "katachi/eager/modules/module.hpp"
#include "katachi/ops/conv1d.hpp"
#include "katachi/ops/conv2d.hpp"
#include "katachi/ops/conv_transpose2d.hpp"

namespace katachi::eager::nn {

// A size per spatial dimension (height, width); one number stands for both.
using ops::size2;
using ops::padding_mode;

// katachi/ops/conv1d.hpp; lazy_conv1d ignores in_channels.
using conv1d_options = ops::conv1d_options;

// katachi/ops/conv2d.hpp; lazy_conv2d ignores in_channels. padding_mode must be zeros.
using conv2d_options = ops::conv2d_options;

// katachi/ops/conv_transpose2d.hpp; lazy_conv_transpose2d ignores in_channels.
using conv_transpose2d_options = ops::conv_transpose2d_options;

// The parts the three convolutions share: weight, bias, PyTorch's default initialisation.
class conv_base : public module {
public:
    parameter weight;
    parameter bias;  // undefined when the options say bias = false
    // PyTorch's default (the op's reset, katachi/ops/): kaiming-uniform with a = sqrt(5) for the
    // weight, uniform +-1/sqrt(fan_in) for the bias.
    virtual void reset_parameters() = 0;

protected:
    void make_parameters(bool lazy, bool with_bias, const std::string& lazy_name);
    void check_groups(std::size_t in, std::size_t out, std::size_t groups) const;
    static std::size_t lazy_input_size(const sizes& input, std::size_t rank, const char* name);
    std::optional<std::size_t> channels_from(const state_map& state, const std::string& prefix,
                                             std::size_t dim, std::size_t factor) const;
};

class conv1d : public conv_base {
public:
    using options_type = conv1d_options;
    explicit conv1d(const conv1d_options& o);
    std::string type_name() const override { return "conv1d"; }
    void reset_parameters() override;
    tensor forward(const tensor& x) override;
    sizes output_shape(const sizes& input) const override;
    std::string extra_repr() const override;
    conv1d_options options;

protected:
    conv1d(lazy_init_t, const conv1d_options& o);
    static constexpr const char* lazy_name = "lazy_conv1d";
    static std::size_t lazy_input_size(const sizes& input) {
        return conv_base::lazy_input_size(input, 3, lazy_name);
    }
    std::optional<std::size_t> lazy_size_from(const state_map& s, const std::string& p) const {
        return channels_from(s, p, 1, options.groups);
    }
    void lazy_materialize(std::size_t in_channels);
};

class conv2d : public conv_base {
public:
    using options_type = conv2d_options;
    explicit conv2d(const conv2d_options& o);
    std::string type_name() const override { return "conv2d"; }
    void reset_parameters() override;
    tensor forward(const tensor& x) override;
    sizes output_shape(const sizes& input) const override;
    std::string extra_repr() const override;
    conv2d_options options;

protected:
    conv2d(lazy_init_t, const conv2d_options& o);
    static constexpr const char* lazy_name = "lazy_conv2d";
    static std::size_t lazy_input_size(const sizes& input) {
        return conv_base::lazy_input_size(input, 4, lazy_name);
    }
    std::optional<std::size_t> lazy_size_from(const state_map& s, const std::string& p) const {
        return channels_from(s, p, 1, options.groups);
    }
    void lazy_materialize(std::size_t in_channels);
};

class conv_transpose2d : public conv_base {
public:
    using options_type = conv_transpose2d_options;
    explicit conv_transpose2d(const conv_transpose2d_options& o);
    std::string type_name() const override { return "conv_transpose2d"; }
    void reset_parameters() override;
    tensor forward(const tensor& x) override;
    sizes output_shape(const sizes& input) const override;
    std::string extra_repr() const override;
    conv_transpose2d_options options;

protected:
    conv_transpose2d(lazy_init_t, const conv_transpose2d_options& o);
    static constexpr const char* lazy_name = "lazy_conv_transpose2d";
    static std::size_t lazy_input_size(const sizes& input) {
        return conv_base::lazy_input_size(input, 4, lazy_name);
    }
    std::optional<std::size_t> lazy_size_from(const state_map& s, const std::string& p) const {
        return channels_from(s, p, 0, 1);
    }
    void lazy_materialize(std::size_t in_channels);
};

}  // namespace katachi::eager::nn
