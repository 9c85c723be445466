// katachi/eager/modules/init.hpp: parameter initialisation, as torch.nn.init defines it.
//
// Each function fills a tensor in place (without recording the tape) and returns it. Random ones
// draw from `gen`, or from eager::default_generator() when null. fan_in and fan_out follow
// PyTorch: for a weight [out, in, k...], fan_in = in * prod(k) and fan_out = out * prod(k).
// Applied to a lazy module's parameter before materialisation, every function throws
// uninitialized_parameter_error naming the module and the parameter (PyTorch's ValueError).
#pragma once

#include <string>

#include "katachi/eager/tensor.hpp"
#include "katachi/random.hpp"

namespace katachi::eager::nn::init {

enum class fan_mode { fan_in, fan_out };
enum class nonlinearity { linear, sigmoid, tanh, relu, leaky_relu };

// The recommended gain for a nonlinearity (leaky_relu with its negative slope `param`).
double calculate_gain(nonlinearity n, double param = 0.01);

tensor& zeros_(tensor& t);
tensor& ones_(tensor& t);
tensor& constant_(tensor& t, double value);
tensor& uniform_(tensor& t, double a = 0, double b = 1, generator* gen = nullptr);
tensor& normal_(tensor& t, double mean = 0, double stddev = 1, generator* gen = nullptr);
// Uniform in +-gain sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).
tensor& kaiming_uniform_(tensor& t, double a = 0, fan_mode mode = fan_mode::fan_in,
                         nonlinearity nl = nonlinearity::leaky_relu, generator* gen = nullptr);
tensor& kaiming_normal_(tensor& t, double a = 0, fan_mode mode = fan_mode::fan_in,
                        nonlinearity nl = nonlinearity::leaky_relu, generator* gen = nullptr);
// Uniform in +-gain sqrt(6 / (fan_in + fan_out)); normal with std gain sqrt(2 / (fan_in + fan_out)).
tensor& xavier_uniform_(tensor& t, double gain = 1, generator* gen = nullptr);
tensor& xavier_normal_(tensor& t, double gain = 1, generator* gen = nullptr);

// fan_in and fan_out of a weight of rank 2 or more.
struct fans {
    double in, out;
};
fans calculate_fans(const tensor& t);

}  // namespace katachi::eager::nn::init
