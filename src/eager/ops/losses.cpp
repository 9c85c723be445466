// cross_entropy, nll_loss, mse_loss: the loss kernels with nodes that call their backwards.
#include "katachi/eager/functional/losses.hpp"

#include <vector>

#include "../support.hpp"
#include "katachi/kernels/cross_entropy.hpp"
#include "katachi/kernels/mse_loss.hpp"
#include "katachi/kernels/nll_loss.hpp"

namespace katachi::eager {

namespace {

using detail::kv;

detail::index_view indices(const std::vector<std::int64_t>& t) {
    return {t.data(), sizes{t.size()}};
}

template <class T>
struct cross_entropy_node final : node<T> {
    basic_tensor<T> log_probs;
    std::vector<std::int64_t> target;
    kernels::cross_entropy_options options;
    cross_entropy_node() : node<T>("cross_entropy") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = basic_tensor<T>::empty(log_probs.shape());
        kernels::cross_entropy_backward(kv(log_probs), indices(target), dy.item(), kv(dx[0]), options);
    }
    void release_saved() override {
        log_probs = {};
        target = {};
    }
};

template <class T>
struct nll_loss_node final : node<T> {
    sizes shape;
    std::vector<std::int64_t> target;
    std::int64_t ignore_index;
    nll_loss_node(const sizes& s, std::int64_t ignore)
        : node<T>("nll_loss"), shape(s), ignore_index(ignore) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = basic_tensor<T>::empty(shape);
        kernels::nll_loss_backward(indices(target), dy.item(), kv(dx[0]), ignore_index);
    }
    void release_saved() override { target = {}; }
};

template <class T>
struct mse_loss_node final : node<T> {
    basic_tensor<T> x, target;
    mse_loss_node() : node<T>("mse_loss") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        const auto none = kernels::none;
        if (this->needs_input_grad(0)) {
            dx[0] = basic_tensor<T>::empty(x.shape());
            kernels::mse_loss_backward(kv(x), kv(target), dy.item(), kv(dx[0]), none);
        }
        if (this->needs_input_grad(1)) {
            dx[1] = basic_tensor<T>::empty(x.shape());
            kernels::mse_loss_backward(kv(x), kv(target), dy.item(), none, kv(dx[1]));
        }
    }
    void release_saved() override { x = target = {}; }
};

}  // namespace

template <class T>
basic_tensor<T> cross_entropy(const basic_tensor<T>& logits_in, std::span<const std::int64_t> target,
                              const cross_entropy_options& options) {
    const basic_tensor<T> logits = logits_in.contiguous();
    if (logits.dim() != 2)
        throw shape_mismatch("cross_entropy: the logits have shape " + logits.shape().str() +
                             ", expected [N, C]");
    const kernels::cross_entropy_options o{.label_smoothing = options.label_smoothing,
                                           .ignore_index = options.ignore_index};
    basic_tensor<T> log_probs = basic_tensor<T>::empty(logits.shape());
    const detail::index_view t{target.data(), sizes{target.size()}};
    basic_tensor<T> loss =
        basic_tensor<T>::scalar(kernels::cross_entropy_forward(kv(logits), t, kv(log_probs), o));
    if (auto* n = record<cross_entropy_node<T>>(loss, {&logits})) {
        n->log_probs = log_probs;
        n->target.assign(target.begin(), target.end());
        n->options = o;
    }
    return loss;
}

template <class T>
basic_tensor<T> nll_loss(const basic_tensor<T>& log_probs_in, std::span<const std::int64_t> target,
                         std::int64_t ignore_index) {
    const basic_tensor<T> log_probs = log_probs_in.contiguous();
    const detail::index_view t{target.data(), sizes{target.size()}};
    basic_tensor<T> loss = basic_tensor<T>::scalar(kernels::nll_loss_forward(kv(log_probs), t, ignore_index));
    if (auto* n = record<nll_loss_node<T>>(loss, {&log_probs}, log_probs.shape(), ignore_index))
        n->target.assign(target.begin(), target.end());
    return loss;
}

template <class T>
basic_tensor<T> mse_loss(const basic_tensor<T>& x_in, const basic_tensor<T>& target_in) {
    detail::require_same_shape("mse_loss", x_in.shape(), target_in.shape());
    const basic_tensor<T> x = x_in.contiguous(), target = target_in.contiguous();
    basic_tensor<T> loss = basic_tensor<T>::scalar(kernels::mse_loss_forward(kv(x), kv(target)));
    if (auto* n = record<mse_loss_node<T>>(loss, {&x, &target})) {
        n->x = n->save(x);
        n->target = n->save(target);
    }
    return loss;
}

template basic_tensor<float> cross_entropy(const basic_tensor<float>&, std::span<const std::int64_t>,
                                           const cross_entropy_options&);
template basic_tensor<double> cross_entropy(const basic_tensor<double>&, std::span<const std::int64_t>,
                                            const cross_entropy_options&);
template basic_tensor<float> nll_loss(const basic_tensor<float>&, std::span<const std::int64_t>,
                                      std::int64_t);
template basic_tensor<double> nll_loss(const basic_tensor<double>&, std::span<const std::int64_t>,
                                       std::int64_t);
template basic_tensor<float> mse_loss(const basic_tensor<float>&, const basic_tensor<float>&);
template basic_tensor<double> mse_loss(const basic_tensor<double>&, const basic_tensor<double>&);

}  // namespace katachi::eager
