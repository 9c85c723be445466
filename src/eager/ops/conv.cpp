// conv1d, conv2d, conv_transpose2d: their op definitions (katachi/ops/) through the eager adaptor,
// with the options the weight's shape implies. The scratch is a per-thread buffer
// (detail::scratch), so steady-state training allocates no im2col matrix.
#include "../support.hpp"
#include "katachi/ops/conv1d.hpp"
#include "katachi/ops/conv2d.hpp"
#include "katachi/ops/conv_relu_max_pool2d.hpp"
#include "katachi/ops/conv_transpose2d.hpp"
#include "fused.hpp"
#include "op_apply.hpp"
#include "katachi/eager/functional/layers.hpp"
#include "katachi/kernels/conv1d.hpp"
#include "katachi/kernels/conv2d.hpp"
#include "katachi/kernels/conv_transpose2d.hpp"

namespace katachi::eager {

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

// conv_transpose2d is ops::conv_transpose2d (katachi/ops/conv_transpose2d.hpp) through the eager
// adaptor.
template <class T>
basic_tensor<T> conv_transpose2d(const basic_tensor<T>& x, const basic_tensor<T>& w, const basic_tensor<T>& b,
                                 const kernels::conv_transpose2d_options& o) {
    if (w.dim() != 4)
        throw shape_mismatch("conv_transpose2d: w has shape " + w.shape().str() +
                             ", expected rank 4 [in_channels, out_channels / groups, kh, kw]");
    if (b.defined() && !(b.shape() == sizes{w.size(1) * o.groups}))
        throw shape_mismatch("conv_transpose2d: the bias has shape " + b.shape().str() + ", expected [" +
                             std::to_string(w.size(1) * o.groups) + "]");
    if (x.dim() != 4)
        throw shape_mismatch("conv_transpose2d: x has shape " + x.shape().str() + ", expected rank 4 [N, C, H, W]");
    const ops::conv_transpose2d_options options{.in_channels = w.size(0),
                                                .out_channels = w.size(1) * o.groups,
                                                .kernel_size = {w.size(2), w.size(3)},
                                                .stride = {o.stride[0], o.stride[1]},
                                                .padding = {o.padding[0], o.padding[1]},
                                                .output_padding = {o.output_padding[0], o.output_padding[1]},
                                                .dilation = {o.dilation[0], o.dilation[1]},
                                                .groups = o.groups,
                                                .bias = b.defined()};
    return detail::apply<ops::conv_transpose2d, T, 1>(options, {x}, {w, b}, {});
}

namespace {

// ops::conv_relu_max_pool2d through the eager adaptor: its options are the convolution's and the
// pooling's, its shape rule theirs one after the other.
struct conv_relu_max_pool2d_options {
    ops::conv2d_options conv;
    ops::max_pool2d_options pool;
};

struct conv_relu_max_pool2d_op {
    using options_type = conv_relu_max_pool2d_options;
    using fused = ops::conv_relu_max_pool2d;
    // The tape (and its DOT) shows the three layers' node by this name.
    static constexpr const char* name = "conv2d_relu_max_pool2d";
    static constexpr bool elementwise = false;
    static constexpr bool backward_reads_input = true;   // dW reads x
    static constexpr bool backward_reads_output = true;  // the mask: positive where the relu let through
    static constexpr bool backward_reads_buffers(const options_type&, bool) { return false; }

    static constexpr ops::rule output_shape(const options_type& o, const ops::dims& in) {
        const ops::rule r = ops::conv2d::output_shape(o.conv, in);
        return r.ok() ? ops::max_pool2d::output_shape(o.pool, r.out) : r;
    }
    static constexpr std::size_t saved_size(const options_type&, const ops::dims&, std::size_t) { return 0; }
    static constexpr std::size_t index_size(const options_type& o, const ops::dims& in, std::size_t batch) {
        return fused::index_size(o.conv, o.pool, in, batch);
    }
    static constexpr std::size_t workspace_size(const options_type& o, const ops::dims& in,
                                                std::size_t batch) {
        return fused::workspace_size(o.conv, o.pool, in, batch);
    }
    template <class T>
    static void forward(const options_type& o, const ops::dims& in, const ops::call<T>& c) {
        fused::forward(o.conv, o.pool, in, c);
    }
    template <class T>
    static void backward(const options_type& o, const ops::dims& in, const ops::call<T>& c) {
        fused::backward(o.conv, o.pool, in, c);
    }
};

}  // namespace

bool detail::conv2d_relu_max_pool2d_fits(const ops::conv2d_options& conv, const ops::max_pool2d_options& pool,
                                         const sizes& input) {
    return input.size() == 4 && ops::conv_relu_max_pool2d::fits(conv, pool, per_sample("conv2d", input));
}

tensor detail::conv2d_relu_max_pool2d(const tensor& x, const tensor& w, const tensor& b,
                                      const ops::conv2d_options& conv, const ops::max_pool2d_options& pool) {
    return apply<conv_relu_max_pool2d_op, float, 1>({conv, pool}, {x}, {w, b}, {});
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
