// Parameter initialisation functions.
#include "katachi/eager/modules/init.hpp"

#include <cmath>
#include <stdexcept>

#include "katachi/eager/autograd.hpp"
#include "katachi/eager/random.hpp"

namespace katachi::eager::nn::init {

namespace {

// The check PyTorch makes (ValueError on an UninitializedParameter), naming what was touched.
tensor& usable(const char* fn, tensor& t) {
    if (!t.defined()) throw std::invalid_argument(std::string("init::") + fn + ": the tensor is undefined");
    if (t.is_uninitialized())
        throw uninitialized_parameter_error(
            std::string("init::") + fn + ": " + t.impl()->label +
            " is an uninitialized parameter, so it cannot be initialised yet; "
            "materialise the module first (a forward pass or materialize(shape)), "
            "or pass the initialiser to the lazy module's constructor");
    return t;
}

template <class F>
tensor& fill_each(tensor& t, F f) {
    no_grad guard;
    t.bump_version();
    float* p = t.data();
    if (!t.is_contiguous()) throw shape_mismatch("init: the tensor must be contiguous");
    for (std::size_t i = 0; i < t.numel(); ++i) p[i] = f();
    return t;
}

double fan(const tensor& t, fan_mode mode) {
    const fans f = calculate_fans(t);
    return mode == fan_mode::fan_in ? f.in : f.out;
}

}  // namespace

double calculate_gain(nonlinearity n, double param) {
    switch (n) {
        case nonlinearity::linear:
        case nonlinearity::sigmoid:
            return 1.0;
        case nonlinearity::tanh:
            return 5.0 / 3.0;
        case nonlinearity::relu:
            return std::sqrt(2.0);
        case nonlinearity::leaky_relu:
            return std::sqrt(2.0 / (1 + param * param));
    }
    return 1.0;
}

fans calculate_fans(const tensor& t) {
    if (t.dim() < 2)
        throw std::invalid_argument(
            "init: fan in and fan out need a tensor of rank 2 or more; this one has shape " +
            t.shape().str());
    double receptive = 1;
    for (std::size_t d = 2; d < t.dim(); ++d)
        receptive *= static_cast<double>(t.size(static_cast<std::ptrdiff_t>(d)));
    return {static_cast<double>(t.size(1)) * receptive, static_cast<double>(t.size(0)) * receptive};
}

tensor& zeros_(tensor& t) {
    return constant_(usable("zeros_", t), 0);
}
tensor& ones_(tensor& t) {
    return constant_(usable("ones_", t), 1);
}

tensor& constant_(tensor& t, double value) {
    usable("constant_", t);
    return fill_each(t, [v = static_cast<float>(value)] { return v; });
}

tensor& uniform_(tensor& t, double a, double b, generator* gen) {
    usable("uniform_", t);
    generator& g = gen ? *gen : default_generator();
    return fill_each(t, [&] { return static_cast<float>(g.uniform<double>(a, b)); });
}

tensor& normal_(tensor& t, double mean, double stddev, generator* gen) {
    usable("normal_", t);
    generator& g = gen ? *gen : default_generator();
    return fill_each(t, [&] { return static_cast<float>(g.normal<double>(mean, stddev)); });
}

tensor& kaiming_uniform_(tensor& t, double a, fan_mode mode, nonlinearity nl, generator* gen) {
    usable("kaiming_uniform_", t);
    const double bound = calculate_gain(nl, a) * std::sqrt(3.0 / fan(t, mode));
    return uniform_(t, -bound, bound, gen);
}

tensor& kaiming_normal_(tensor& t, double a, fan_mode mode, nonlinearity nl, generator* gen) {
    usable("kaiming_normal_", t);
    return normal_(t, 0, calculate_gain(nl, a) / std::sqrt(fan(t, mode)), gen);
}

tensor& xavier_uniform_(tensor& t, double gain, generator* gen) {
    usable("xavier_uniform_", t);
    const fans f = calculate_fans(t);
    const double bound = gain * std::sqrt(6.0 / (f.in + f.out));
    return uniform_(t, -bound, bound, gen);
}

tensor& xavier_normal_(tensor& t, double gain, generator* gen) {
    usable("xavier_normal_", t);
    const fans f = calculate_fans(t);
    return normal_(t, 0, gain * std::sqrt(2.0 / (f.in + f.out)), gen);
}

}  // namespace katachi::eager::nn::init
