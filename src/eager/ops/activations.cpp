// Activations: relu, leaky_relu, gelu, sigmoid and tanh run their ops (katachi/ops/) through the
// eager adaptor; softmax and log_softmax, which take a dimension, call their kernels here.
#include "katachi/eager/functional/activations.hpp"

#include "../support.hpp"
#include "katachi/kernels/log_softmax.hpp"
#include "katachi/kernels/softmax.hpp"
#include "katachi/ops/gelu.hpp"
#include "katachi/ops/leaky_relu.hpp"
#include "katachi/ops/relu.hpp"
#include "katachi/ops/sigmoid.hpp"
#include "katachi/ops/tanh.hpp"
#include "op_apply.hpp"

namespace katachi::eager {

namespace {

using detail::kv;

// A node that saves the output and calls `grad(y, dy, dx)`.
template <class T, class Grad>
struct saved_one_node final : node<T> {
    basic_tensor<T> saved;
    Grad grad;
    saved_one_node(const char* name, Grad g) : node<T>(name), grad(g) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = basic_tensor<T>::empty(saved.shape());
        grad(kv(saved), kv(dy), kv(dx[0]));
    }
    void release_saved() override { saved = {}; }
};

// y = forward(x); the node saves y and runs `grad` in backward.
template <class T, class Forward, class Grad>
basic_tensor<T> activation(const char* name, const basic_tensor<T>& x_in, Forward forward, Grad grad) {
    const basic_tensor<T> x = x_in.contiguous();
    basic_tensor<T> y = basic_tensor<T>::empty(x.shape());
    forward(kv(x), kv(y));
    if (auto* n = record<saved_one_node<T, Grad>>(y, {&x}, name, grad))
        n->saved = n->save(y);
    return y;
}

}  // namespace

template <class T>
basic_tensor<T> relu(const basic_tensor<T>& x) {
    return detail::apply<ops::relu, T, 1>({}, {x}, {}, {});
}

template <class T>
basic_tensor<T> leaky_relu(const basic_tensor<T>& x, double slope) {
    return detail::apply<ops::leaky_relu, T, 1>({.negative_slope = slope}, {x}, {}, {});
}

template <class T>
basic_tensor<T> gelu(const basic_tensor<T>& x, gelu_approximate approximate) {
    return detail::apply<ops::gelu, T, 1>({.approximate = approximate}, {x}, {}, {});
}

template <class T>
basic_tensor<T> sigmoid(const basic_tensor<T>& x) {
    return detail::apply<ops::sigmoid, T, 1>({}, {x}, {}, {});
}

template <class T>
basic_tensor<T> tanh(const basic_tensor<T>& x) {
    return detail::apply<ops::tanh, T, 1>({}, {x}, {}, {});
}

template <class T>
basic_tensor<T> softmax(const basic_tensor<T>& x, std::ptrdiff_t dim) {
    return activation(
        "softmax", x, [dim](auto in, auto out) { kernels::softmax_forward(in, out, dim); },
        [dim](auto y, auto dy, auto dx) { kernels::softmax_backward(y, dy, dx, dim); });
}

template <class T>
basic_tensor<T> log_softmax(const basic_tensor<T>& x, std::ptrdiff_t dim) {
    return activation(
        "log_softmax", x, [dim](auto in, auto out) { kernels::log_softmax_forward(in, out, dim); },
        [dim](auto y, auto dy, auto dx) { kernels::log_softmax_backward(y, dy, dx, dim); });
}

template basic_tensor<float> relu(const basic_tensor<float>&);
template basic_tensor<double> relu(const basic_tensor<double>&);
template basic_tensor<float> leaky_relu(const basic_tensor<float>&, double);
template basic_tensor<double> leaky_relu(const basic_tensor<double>&, double);
template basic_tensor<float> gelu(const basic_tensor<float>&, gelu_approximate);
template basic_tensor<double> gelu(const basic_tensor<double>&, gelu_approximate);
template basic_tensor<float> sigmoid(const basic_tensor<float>&);
template basic_tensor<double> sigmoid(const basic_tensor<double>&);
template basic_tensor<float> tanh(const basic_tensor<float>&);
template basic_tensor<double> tanh(const basic_tensor<double>&);
template basic_tensor<float> softmax(const basic_tensor<float>&, std::ptrdiff_t);
template basic_tensor<double> softmax(const basic_tensor<double>&, std::ptrdiff_t);
template basic_tensor<float> log_softmax(const basic_tensor<float>&, std::ptrdiff_t);
template basic_tensor<double> log_softmax(const basic_tensor<double>&, std::ptrdiff_t);

}  // namespace katachi::eager
