// dropout: kernels::dropout_forward with a node that calls kernels::dropout_backward on the mask.
#include "katachi/kernels/dropout.hpp"
#include "../support.hpp"
#include "katachi/eager/functional/layers.hpp"
#include "katachi/eager/random.hpp"

namespace katachi::eager {

namespace {

using detail::kv;

template <class T>
struct dropout_node final : node<T> {
    basic_tensor<T> mask;
    dropout_node() : node<T>("dropout") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = basic_tensor<T>::empty(mask.shape());
        kernels::dropout_backward(kv(mask), kv(dy), kv(dx[0]));
    }
    void release_saved() override { mask = {}; }
};

}  // namespace

template <class T>
basic_tensor<T> dropout(const basic_tensor<T>& x_in, double p, bool training, generator* gen) {
    if (!training || p == 0.0) {
        if (!(p >= 0.0 && p <= 1.0))
            throw std::invalid_argument("dropout: the drop probability p must lie in [0, 1], got " +
                                        std::to_string(p));
        return x_in;  // the identity: PyTorch returns the input itself too
    }
    const basic_tensor<T> x = x_in.contiguous();
    basic_tensor<T> y = basic_tensor<T>::empty(x.shape()), mask = basic_tensor<T>::empty(x.shape());
    kernels::dropout_forward(kv(x), kv(y), kv(mask), p, training, gen ? *gen : default_generator());
    if (auto* n = record<dropout_node<T>>(y, {&x})) n->mask = mask;
    return y;
}

template basic_tensor<float> dropout(const basic_tensor<float>&, double, bool, generator*);
template basic_tensor<double> dropout(const basic_tensor<double>&, double, bool, generator*);

}  // namespace katachi::eager
