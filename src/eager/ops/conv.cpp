// conv1d, conv2d, conv_transpose2d: the kernels' forwards with nodes that call their backwards.
// The im2col scratch is a per-thread buffer, so steady-state training allocates none.
#include "../support.hpp"
#include "katachi/ops/conv1d.hpp"
#include "katachi/ops/conv2d.hpp"
#include "op_apply.hpp"
#include "katachi/eager/functional/layers.hpp"
#include "katachi/kernels/conv1d.hpp"
#include "katachi/kernels/conv2d.hpp"
#include "katachi/kernels/conv_transpose2d.hpp"

namespace katachi::eager {

namespace {

using detail::kv;

// The three convolutions differ only in their kernels; Ops supplies them.
template <class T, class Ops>
struct conv_node final : node<T> {
    basic_tensor<T> x, w;
    typename Ops::options options;
    conv_node(const typename Ops::options& o) : node<T>(Ops::name), options(o) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        const std::span<T> ws = detail::scratch<T>(Ops::workspace(x, w, options));
        const auto n = kernels::none;
        if (this->needs_input_grad(0)) {
            dx[0] = basic_tensor<T>::empty(x.shape());
            Ops::backward(kv(x), kv(w), kv(dy), kv(dx[0]), n, n, options, ws);
        }
        if (this->needs_input_grad(1)) {
            dx[1] = basic_tensor<T>::empty(w.shape());
            Ops::backward(kv(x), kv(w), kv(dy), n, kv(dx[1]), n, options, ws);
        }
        if (this->needs_input_grad(2)) {
            dx[2] = basic_tensor<T>::empty({Ops::out_channels(w, options)});
            Ops::backward(kv(x), kv(w), kv(dy), n, n, kv(dx[2]), options, ws);
        }
    }
    void release_saved() override { x = w = {}; }
};



struct conv_transpose2d_ops {
    using options = kernels::conv_transpose2d_options;
    static constexpr const char* name = "conv_transpose2d";
    template <class X, class W>
    static std::size_t workspace(const X& x, const W& w, const options& o) {
        return kernels::conv_transpose2d_workspace_size(x.shape(), w.shape(), o);
    }
    template <class X, class W>
    static sizes output_shape(const X& x, const W& w, const options& o) {
        return sizes(kernels::conv_transpose2d_output_shape(x.shape(), w.shape(), o));
    }
    template <class W>
    static std::size_t out_channels(const W& w, const options& o) {
        return w.size(1) * o.groups;
    }
    template <class... A>
    static void forward(A&&... a) {
        kernels::conv_transpose2d_forward(std::forward<A>(a)...);
    }
    template <class... A>
    static void backward(A&&... a) {
        kernels::conv_transpose2d_backward(std::forward<A>(a)...);
    }
};

template <class Ops, class T>
basic_tensor<T> convolve(const basic_tensor<T>& x_in, const basic_tensor<T>& w_in,
                         const basic_tensor<T>& b_in, const typename Ops::options& o) {
    const basic_tensor<T> x = x_in.contiguous(), w = w_in.contiguous();
    const basic_tensor<T> b = b_in.defined() ? b_in.contiguous() : basic_tensor<T>();
    basic_tensor<T> y = basic_tensor<T>::empty(Ops::output_shape(x, w, o));
    const std::span<T> ws = detail::scratch<T>(Ops::workspace(x, w, o));
    if (b.defined()) {
        if (!(b.shape() == sizes{Ops::out_channels(w, o)}))
            throw shape_mismatch(std::string(Ops::name) + ": the bias has shape " + b.shape().str() +
                                 ", expected [" + std::to_string(Ops::out_channels(w, o)) + "]");
        Ops::forward(kv(x), kv(w), kv(b), kv(y), o, ws);
    } else {
        Ops::forward(kv(x), kv(w), kernels::none, kv(y), o, ws);
    }
    if (auto* n = record<conv_node<T, Ops>>(y, {&x, &w, b.defined() ? &b : nullptr}, o)) {
        n->x = n->save(x);
        n->w = n->save(w);
    }
    return y;
}

}  // namespace

// conv1d is ops::conv1d (katachi/ops/conv1d.hpp) through the eager adaptor.
template <class T>
basic_tensor<T> conv1d(const basic_tensor<T>& x, const basic_tensor<T>& w, const basic_tensor<T>& b,
                       const kernels::conv1d_options& o) {
    if (w.dim() != 3)
        throw shape_mismatch("conv1d: w has shape " + w.shape().str() +
                             ", expected rank 3 [out_channels, in_channels / groups, k]");
    if (b.defined() && !(b.shape() == sizes{w.size(0)}))
        throw shape_mismatch("conv1d: the bias has shape " + b.shape().str() + ", expected [" +
                             std::to_string(w.size(0)) + "]");
    if (x.dim() != 3) throw shape_mismatch("conv1d: x has shape " + x.shape().str() + ", expected rank 3 [N, C, L]");
    const ops::conv1d_options options{.in_channels = w.size(1) * o.groups,
                                      .out_channels = w.size(0),
                                      .kernel_size = w.size(2),
                                      .stride = o.stride,
                                      .padding = o.padding,
                                      .dilation = o.dilation,
                                      .groups = o.groups,
                                      .bias = b.defined()};
    return detail::apply<ops::conv1d, T, 1>(options, {x}, {w, b}, {});
}

// conv2d is ops::conv2d (katachi/ops/conv2d.hpp) through the eager adaptor; its options follow
// from the weight's shape.
template <class T>
basic_tensor<T> conv2d(const basic_tensor<T>& x, const basic_tensor<T>& w, const basic_tensor<T>& b,
                       const kernels::conv2d_options& o) {
    if (w.dim() != 4)
        throw shape_mismatch("conv2d: w has shape " + w.shape().str() +
                             ", expected rank 4 [out_channels, in_channels / groups, kh, kw]");
    if (b.defined() && !(b.shape() == sizes{w.size(0)}))
        throw shape_mismatch("conv2d: the bias has shape " + b.shape().str() + ", expected [" +
                             std::to_string(w.size(0)) + "]");
    if (x.dim() != 4)
        throw shape_mismatch("conv2d: x has shape " + x.shape().str() + ", expected rank 4 [N, C, H, W]");
    const ops::conv2d_options options{.in_channels = w.size(1) * o.groups,
                                      .out_channels = w.size(0),
                                      .kernel_size = {w.size(2), w.size(3)},
                                      .stride = {o.stride[0], o.stride[1]},
                                      .padding = {o.padding[0], o.padding[1]},
                                      .dilation = {o.dilation[0], o.dilation[1]},
                                      .groups = o.groups,
                                      .bias = b.defined()};
    return detail::apply<ops::conv2d, T, 1>(options, {x}, {w, b}, {});
}

template <class T>
basic_tensor<T> conv_transpose2d(const basic_tensor<T>& x, const basic_tensor<T>& w, const basic_tensor<T>& b,
                                 const kernels::conv_transpose2d_options& o) {
    return convolve<conv_transpose2d_ops>(x, w, b, o);
}

template basic_tensor<float> conv1d(const basic_tensor<float>&, const basic_tensor<float>&,
                                    const basic_tensor<float>&, const kernels::conv1d_options&);
template basic_tensor<double> conv1d(const basic_tensor<double>&, const basic_tensor<double>&,
                                     const basic_tensor<double>&, const kernels::conv1d_options&);
template basic_tensor<float> conv2d(const basic_tensor<float>&, const basic_tensor<float>&,
                                    const basic_tensor<float>&, const kernels::conv2d_options&);
template basic_tensor<double> conv2d(const basic_tensor<double>&, const basic_tensor<double>&,
                                     const basic_tensor<double>&, const kernels::conv2d_options&);
template basic_tensor<float> conv_transpose2d(const basic_tensor<float>&, const basic_tensor<float>&,
                                              const basic_tensor<float>&,
                                              const kernels::conv_transpose2d_options&);
template basic_tensor<double> conv_transpose2d(const basic_tensor<double>&, const basic_tensor<double>&,
                                               const basic_tensor<double>&,
                                               const kernels::conv_transpose2d_options&);

}  // namespace katachi::eager
