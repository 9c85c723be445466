// katachi/eager/modules/activation.hpp: parameter-free layers: activations, dropout, flatten.
//
// Each forward calls the functional form (functional/activations.hpp, functional/layers.hpp), so
// the module and functional APIs share one implementation.
#pragma once

#include <cstddef>
#include <string>

#include "katachi/eager/functional/activations.hpp"
#include "katachi/eager/modules/module.hpp"

namespace katachi::eager::nn {

// A layer whose output shape is its input shape.
class shape_preserving : public module {
public:
    sizes output_shape(const sizes& input) const override { return input; }
};

class relu : public shape_preserving {
public:
    std::string type_name() const override { return "relu"; }
    tensor forward(const tensor& x) override;
};

class leaky_relu : public shape_preserving {
public:
    explicit leaky_relu(double negative_slope = 0.01) : negative_slope(negative_slope) {}
    std::string type_name() const override { return "leaky_relu"; }
    tensor forward(const tensor& x) override;
    std::string extra_repr() const override;
    double negative_slope;
};

class gelu : public shape_preserving {
public:
    explicit gelu(gelu_approximate approximate = gelu_approximate::none) : approximate(approximate) {}
    std::string type_name() const override { return "gelu"; }
    tensor forward(const tensor& x) override;
    gelu_approximate approximate;
};

class sigmoid : public shape_preserving {
public:
    std::string type_name() const override { return "sigmoid"; }
    tensor forward(const tensor& x) override;
};

class tanh : public shape_preserving {
public:
    std::string type_name() const override { return "tanh"; }
    tensor forward(const tensor& x) override;
};

class softmax : public shape_preserving {
public:
    explicit softmax(std::ptrdiff_t dim = -1) : dim(dim) {}
    std::string type_name() const override { return "softmax"; }
    tensor forward(const tensor& x) override;
    std::string extra_repr() const override { return "dim=" + std::to_string(dim); }
    std::ptrdiff_t dim;
};

class log_softmax : public shape_preserving {
public:
    explicit log_softmax(std::ptrdiff_t dim = -1) : dim(dim) {}
    std::string type_name() const override { return "log_softmax"; }
    tensor forward(const tensor& x) override;
    std::string extra_repr() const override { return "dim=" + std::to_string(dim); }
    std::ptrdiff_t dim;
};

class identity : public shape_preserving {
public:
    std::string type_name() const override { return "identity"; }
    tensor forward(const tensor& x) override { return x; }
};

// Inverted dropout that follows the module's mode: it drops in train() and is the identity in
// eval() (functional dropout() takes the flag explicitly instead).
class dropout : public shape_preserving {
public:
    explicit dropout(double p = 0.5);
    std::string type_name() const override { return "dropout"; }
    tensor forward(const tensor& x) override;
    std::string extra_repr() const override;
    double p;
};

// Merges dimensions start_dim..end_dim; the default keeps the batch dimension.
class flatten : public module {
public:
    explicit flatten(std::ptrdiff_t start_dim = 1, std::ptrdiff_t end_dim = -1)
        : start_dim(start_dim), end_dim(end_dim) {}
    std::string type_name() const override { return "flatten"; }
    tensor forward(const tensor& x) override { return x.flatten(start_dim, end_dim); }
    sizes output_shape(const sizes& input) const override;
    std::string extra_repr() const override;
    std::ptrdiff_t start_dim, end_dim;
};

}  // namespace katachi::eager::nn
