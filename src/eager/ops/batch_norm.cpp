// batch_norm: the kernels' training and evaluation forwards, with nodes calling their backwards.
#include "katachi/kernels/batch_norm.hpp"
#include "../support.hpp"
#include "katachi/eager/functional/layers.hpp"

namespace katachi::eager {

namespace {

using detail::kv;

// Training: the gradient flows through the batch statistics (save_mean, save_invstd). Each
// gradient is computed alone, with `none` for the others.
template <class T>
struct batch_norm_train_node final : node<T> {
    basic_tensor<T> x, weight, save_mean, save_invstd;
    batch_norm_train_node() : node<T>("batch_norm") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        const std::size_t c = x.size(1);
        const auto none = kernels::none;
        const auto xv = kv(x), mean = kv(save_mean), invstd = kv(save_invstd), g = kv(dy);
        if (this->needs_input_grad(0)) {
            dx[0] = basic_tensor<T>::empty(x.shape());
            if (weight.defined())
                kernels::batch_norm_backward_train(xv, kv(weight), mean, invstd, g, kv(dx[0]), none, none);
            else
                kernels::batch_norm_backward_train(xv, none, mean, invstd, g, kv(dx[0]), none, none);
        }
        if (this->needs_input_grad(1)) {
            dx[1] = basic_tensor<T>::empty({c});
            kernels::batch_norm_backward_train(xv, kv(weight), mean, invstd, g, none, kv(dx[1]), none);
        }
        if (this->needs_input_grad(2)) {
            dx[2] = basic_tensor<T>::empty({c});
            kernels::batch_norm_backward_train(xv, kv(weight), mean, invstd, g, none, none, kv(dx[2]));
        }
    }
    void release_saved() override { x = weight = save_mean = save_invstd = {}; }
};

// Evaluation: the running statistics are constants (copied at the forward).
template <class T>
struct batch_norm_eval_node final : node<T> {
    basic_tensor<T> x, weight, running_mean, running_var;
    double eps;
    explicit batch_norm_eval_node(double e) : node<T>("batch_norm"), eps(e) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        const std::size_t c = x.size(1);
        const auto none = kernels::none;
        const kernels::batch_norm_options o{.eps = eps};
        const auto rm = kv(running_mean), rv = kv(running_var);
        if (this->needs_input_grad(0)) {
            dx[0] = basic_tensor<T>::empty(x.shape());
            if (weight.defined())
                kernels::batch_norm_backward_eval(kv(x), kv(weight), rm, rv, kv(dy), kv(dx[0]), none, none,
                                                  o);
            else
                kernels::batch_norm_backward_eval(kv(x), none, rm, rv, kv(dy), kv(dx[0]), none, none, o);
        }
        if (this->needs_input_grad(1)) {
            dx[1] = basic_tensor<T>::empty({c});
            kernels::batch_norm_backward_eval(kv(x), kv(weight), rm, rv, kv(dy), none, kv(dx[1]), none, o);
        }
        if (this->needs_input_grad(2)) {
            dx[2] = basic_tensor<T>::empty({c});
            kernels::batch_norm_backward_eval(kv(x), kv(weight), rm, rv, kv(dy), none, none, kv(dx[2]), o);
        }
    }
    void release_saved() override { x = weight = running_mean = running_var = {}; }
};

template <class T>
void require_channels(const char* what, const basic_tensor<T>& v, std::size_t c, const sizes& x) {
    if (v.defined() && !(v.shape() == sizes{c}))
        throw shape_mismatch(std::string("batch_norm: ") + what + " has shape " + v.shape().str() +
                             " but the input of shape " + x.str() + " has " + std::to_string(c) +
                             " channels");
}

}  // namespace

template <class T>
basic_tensor<T> batch_norm(const basic_tensor<T>& x_in, const basic_tensor<T>& running_mean,
                           const basic_tensor<T>& running_var, const basic_tensor<T>& weight_in,
                           const basic_tensor<T>& bias_in, bool training, double momentum, double eps) {
    if (x_in.dim() < 2)
        throw shape_mismatch("batch_norm: the input has shape " + x_in.shape().str() +
                             ", expected [N, C, *] with channels in dimension 1");
    if (weight_in.defined() != bias_in.defined())
        throw std::invalid_argument("batch_norm: weight and bias must both be given or both be absent");
    if (running_mean.defined() != running_var.defined())
        throw std::invalid_argument(
            "batch_norm: running_mean and running_var must both be given or both be absent");
    const basic_tensor<T> x = x_in.contiguous();
    const std::size_t c = x.size(1);
    require_channels("weight", weight_in, c, x.shape());
    require_channels("bias", bias_in, c, x.shape());
    require_channels("running_mean", running_mean, c, x.shape());
    require_channels("running_var", running_var, c, x.shape());
    const basic_tensor<T> w = weight_in.defined() ? weight_in.contiguous() : basic_tensor<T>();
    const basic_tensor<T> b = bias_in.defined() ? bias_in.contiguous() : basic_tensor<T>();
    const auto none = kernels::none;
    const kernels::batch_norm_options o{.eps = eps, .momentum = momentum};
    basic_tensor<T> y = basic_tensor<T>::empty(x.shape());
    const basic_tensor<T>* inputs_w = w.defined() ? &w : nullptr;
    const basic_tensor<T>* inputs_b = b.defined() ? &b : nullptr;
    if (training) {
        basic_tensor<T> mean = basic_tensor<T>::empty({c}), invstd = basic_tensor<T>::empty({c});
        {
            // The running statistics (buffers, not on the tape) are moved in place by the kernel.
            if (w.defined() && running_mean.defined())
                kernels::batch_norm_forward_train(kv(x), kv(w), kv(b), kv(running_mean), kv(running_var),
                                                  kv(y), kv(mean), kv(invstd), o);
            else if (w.defined())
                kernels::batch_norm_forward_train(kv(x), kv(w), kv(b), none, none, kv(y), kv(mean),
                                                  kv(invstd), o);
            else if (running_mean.defined())
                kernels::batch_norm_forward_train(kv(x), none, none, kv(running_mean), kv(running_var), kv(y),
                                                  kv(mean), kv(invstd), o);
            else
                kernels::batch_norm_forward_train(kv(x), none, none, none, none, kv(y), kv(mean), kv(invstd),
                                                  o);
        }
        if (auto* n = record<batch_norm_train_node<T>>(y, {&x, inputs_w, inputs_b})) {
            n->x = n->save(x);
            if (w.defined()) n->weight = n->save(w);
            n->save_mean = mean;
            n->save_invstd = invstd;
        }
    } else {
        if (!running_mean.defined())
            throw std::invalid_argument("batch_norm: evaluation needs running_mean and running_var");
        const basic_tensor<T> rm = running_mean.contiguous(), rv = running_var.contiguous();
        if (w.defined())
            kernels::batch_norm_forward_eval(kv(x), kv(w), kv(b), kv(rm), kv(rv), kv(y), o);
        else
            kernels::batch_norm_forward_eval(kv(x), none, none, kv(rm), kv(rv), kv(y), o);
        if (auto* n = record<batch_norm_eval_node<T>>(y, {&x, inputs_w, inputs_b}, eps)) {
            n->x = n->save(x);
            if (w.defined()) n->weight = n->save(w);
            n->running_mean = rm.detach().clone();
            n->running_var = rv.detach().clone();
        }
    }
    return y;
}

template basic_tensor<float> batch_norm(const basic_tensor<float>&, const basic_tensor<float>&,
                                        const basic_tensor<float>&, const basic_tensor<float>&,
                                        const basic_tensor<float>&, bool, double, double);
template basic_tensor<double> batch_norm(const basic_tensor<double>&, const basic_tensor<double>&,
                                         const basic_tensor<double>&, const basic_tensor<double>&,
                                         const basic_tensor<double>&, bool, double, double);

}  // namespace katachi::eager
