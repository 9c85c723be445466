// max_pool2d, avg_pool2d and adaptive_avg_pool2d: their op definitions (katachi/ops/) through
// the eager adaptor.

#include "katachi/ops/adaptive_avg_pool2d.hpp"
#include "katachi/ops/avg_pool2d.hpp"
#include "katachi/ops/max_pool2d.hpp"
#include "op_apply.hpp"
#include "fused.hpp"
#include "katachi/eager/functional/layers.hpp"

namespace katachi::eager {

namespace {

// ops::max_pool2d with the relu before it taken in, through its own pair of entry points.
struct relu_max_pool2d_op : ops::max_pool2d {
    static constexpr bool backward_reads_input = false;
    static constexpr bool backward_reads_output = true;  // the mask: positive where the relu let through

    template <class T>
    static void forward(const ops::max_pool2d_options& o, const ops::dims& in, const ops::call<T>& c) {
        ops::max_pool2d::forward_after_relu(o, in, c);
    }
    template <class T>
    static void backward(const ops::max_pool2d_options& o, const ops::dims& in, const ops::call<T>& c) {
        ops::max_pool2d::backward_through_relu(o, in, c);
    }
};

}  // namespace

tensor detail::relu_max_pool2d(const tensor& x, const ops::max_pool2d_options& options) {
    return detail::apply<relu_max_pool2d_op, float, 1>(options, {x}, {}, {});
}


template <class T>
basic_tensor<T> max_pool2d(const basic_tensor<T>& x, const kernels::max_pool2d_options& o) {
    const ops::max_pool2d_options options{.kernel_size = {o.kernel_size[0], o.kernel_size[1]},
                                          .stride = {o.stride[0], o.stride[1]},
                                          .padding = {o.padding[0], o.padding[1]},
                                          .dilation = {o.dilation[0], o.dilation[1]},
                                          .ceil_mode = o.ceil_mode};
    return detail::apply<ops::max_pool2d, T, 1>(options, {x}, {}, {});
}

template <class T>
basic_tensor<T> avg_pool2d(const basic_tensor<T>& x, const kernels::avg_pool2d_options& o) {
    const ops::avg_pool2d_options options{.kernel_size = {o.kernel_size[0], o.kernel_size[1]},
                                          .stride = {o.stride[0], o.stride[1]},
                                          .padding = {o.padding[0], o.padding[1]},
                                          .ceil_mode = o.ceil_mode,
                                          .count_include_pad = o.count_include_pad,
                                          .divisor_override = o.divisor_override};
    return detail::apply<ops::avg_pool2d, T, 1>(options, {x}, {}, {});
}

template <class T>
basic_tensor<T> adaptive_avg_pool2d(const basic_tensor<T>& x, std::array<std::size_t, 2> size) {
    return detail::apply<ops::adaptive_avg_pool2d, T, 1>({.output_size = {size[0], size[1]}}, {x}, {}, {});
}

template basic_tensor<float> max_pool2d(const basic_tensor<float>&, const kernels::max_pool2d_options&);
template basic_tensor<double> max_pool2d(const basic_tensor<double>&, const kernels::max_pool2d_options&);
template basic_tensor<float> avg_pool2d(const basic_tensor<float>&, const kernels::avg_pool2d_options&);
template basic_tensor<double> avg_pool2d(const basic_tensor<double>&, const kernels::avg_pool2d_options&);
template basic_tensor<float> adaptive_avg_pool2d(const basic_tensor<float>&, std::array<std::size_t, 2>);
template basic_tensor<double> adaptive_avg_pool2d(const basic_tensor<double>&, std::array<std::size_t, 2>);

}  // namespace katachi::eager
