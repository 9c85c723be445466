// linear: kernels::linear_forward with the node that calls kernels::linear_backward.
#include "katachi/kernels/linear.hpp"
#include "../support.hpp"
#include "katachi/eager/functional/layers.hpp"

namespace katachi::eager {

namespace {

using detail::kv;

template <class T>
struct linear_node final : node<T> {
    basic_tensor<T> x, w;
    linear_node() : node<T>("linear") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        if (this->needs_input_grad(0)) {
            dx[0] = basic_tensor<T>::empty(x.shape());
            kernels::linear_backward(kv(x), kv(w), kv(dy), kv(dx[0]), kernels::none, kernels::none);
        }
        if (this->needs_input_grad(1)) {
            dx[1] = basic_tensor<T>::empty(w.shape());
            kernels::linear_backward(kv(x), kv(w), kv(dy), kernels::none, kv(dx[1]), kernels::none);
        }
        if (this->needs_input_grad(2)) {
            dx[2] = basic_tensor<T>::empty({w.size(0)});
            kernels::linear_backward(kv(x), kv(w), kv(dy), kernels::none, kernels::none, kv(dx[2]));
        }
    }
    void release_saved() override { x = w = {}; }
};

}  // namespace

template <class T>
basic_tensor<T> linear(const basic_tensor<T>& x_in, const basic_tensor<T>& w_in,
                       const basic_tensor<T>& b_in) {
    if (w_in.dim() != 2)
        throw shape_mismatch("linear: the weight has shape " + w_in.shape().str() + ", expected [out, in]");
    if (x_in.dim() == 0 || x_in.size(-1) != w_in.size(1))
        throw shape_mismatch(detail::shapes_text("linear", x_in.shape(), w_in.shape(),
                                                 "do not fit: the input's last size must equal the "
                                                 "weight's second (in_features)"));
    if (b_in.defined() && !(b_in.shape() == sizes{w_in.size(0)}))
        throw shape_mismatch("linear: the bias has shape " + b_in.shape().str() + ", expected [" +
                             std::to_string(w_in.size(0)) + "]");
    // Leading dimensions are folded into one batch dimension and unfolded after.
    const bool batch2d = x_in.dim() == 2;
    const basic_tensor<T> x = batch2d ? x_in.contiguous() : x_in.reshape({-1, std::ptrdiff_t(w_in.size(1))});
    const basic_tensor<T> w = w_in.contiguous();
    const basic_tensor<T> b = b_in.defined() ? b_in.contiguous() : basic_tensor<T>();
    basic_tensor<T> y = basic_tensor<T>::empty({x.size(0), w.size(0)});
    if (b.defined())
        kernels::linear_forward(kv(x), kv(w), kv(b), kv(y));
    else
        kernels::linear_forward(kv(x), kv(w), kernels::none, kv(y));
    if (auto* n = record<linear_node<T>>(y, {&x, &w, b.defined() ? &b : nullptr})) {
        n->x = n->save(x);
        n->w = n->save(w);
    }
    if (batch2d) return y;
    sizes out(x_in.shape());
    out[out.size() - 1] = w.size(0);
    return y.view(out);
}

template basic_tensor<float> linear(const basic_tensor<float>&, const basic_tensor<float>&,
                                    const basic_tensor<float>&);
template basic_tensor<double> linear(const basic_tensor<double>&, const basic_tensor<double>&,
                                     const basic_tensor<double>&);

}  // namespace katachi::eager
