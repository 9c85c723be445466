// The parameter-free layers, pooling and the containers.
#include <sstream>

#include "katachi/eager/functional/layers.hpp"
#include "katachi/eager/modules/activation.hpp"
#include "katachi/eager/modules/container.hpp"
#include "katachi/eager/modules/pooling.hpp"
#include "katachi/kernels/avg_pool2d.hpp"
#include "katachi/kernels/flatten.hpp"
#include "katachi/kernels/max_pool2d.hpp"

namespace katachi::eager::nn {

namespace {

std::string number(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

std::string pair_text(size2 s) {
    std::ostringstream os;
    os << '(' << s.h << ", " << s.w << ')';
    return os.str();
}

kernels::max_pool2d_options kernel_options(const max_pool2d_options& o) {
    return {.kernel_size = o.kernel_size.array(),
            .stride = o.stride.array(),
            .padding = o.padding.array(),
            .dilation = o.dilation.array(),
            .ceil_mode = o.ceil_mode};
}

kernels::avg_pool2d_options kernel_options(const avg_pool2d_options& o) {
    return {.kernel_size = o.kernel_size.array(),
            .stride = o.stride.array(),
            .padding = o.padding.array(),
            .ceil_mode = o.ceil_mode,
            .count_include_pad = o.count_include_pad};
}

}  // namespace

tensor relu::forward(const tensor& x) {
    return eager::relu(x);
}
tensor leaky_relu::forward(const tensor& x) {
    return eager::leaky_relu(x, negative_slope);
}
std::string leaky_relu::extra_repr() const {
    return "negative_slope=" + number(negative_slope);
}
tensor gelu::forward(const tensor& x) {
    return eager::gelu(x, approximate);
}
tensor sigmoid::forward(const tensor& x) {
    return eager::sigmoid(x);
}
tensor tanh::forward(const tensor& x) {
    return eager::tanh(x);
}
tensor softmax::forward(const tensor& x) {
    return eager::softmax(x, dim);
}
tensor log_softmax::forward(const tensor& x) {
    return eager::log_softmax(x, dim);
}

dropout::dropout(double p) : p(p) {
    if (!(p >= 0.0 && p <= 1.0))
        throw std::invalid_argument("dropout: the drop probability p must lie in [0, 1], got " + number(p));
}
tensor dropout::forward(const tensor& x) {
    return eager::dropout(x, p, is_training());
}
std::string dropout::extra_repr() const {
    return "p=" + number(p);
}

sizes flatten::output_shape(const sizes& input) const {
    return sizes(kernels::flatten_shape(input, start_dim, end_dim));
}
std::string flatten::extra_repr() const {
    return "start_dim=" + std::to_string(start_dim) + ", end_dim=" + std::to_string(end_dim);
}

// ---- pooling -------------------------------------------------------------------------------------

tensor max_pool2d::forward(const tensor& x) {
    return eager::max_pool2d(x, kernel_options(options));
}
sizes max_pool2d::output_shape(const sizes& input) const {
    return sizes(kernels::max_pool2d_output_shape(input, kernel_options(options)));
}
std::string max_pool2d::extra_repr() const {
    const size2 stride = options.stride == size2(0) ? options.kernel_size : options.stride;
    std::ostringstream os;
    os << "kernel_size=" << pair_text(options.kernel_size) << ", stride=" << pair_text(stride)
       << ", padding=" << pair_text(options.padding) << ", dilation=" << pair_text(options.dilation)
       << ", ceil_mode=" << (options.ceil_mode ? "true" : "false");
    return os.str();
}

tensor avg_pool2d::forward(const tensor& x) {
    return eager::avg_pool2d(x, kernel_options(options));
}
sizes avg_pool2d::output_shape(const sizes& input) const {
    return sizes(kernels::avg_pool2d_output_shape(input, kernel_options(options)));
}
std::string avg_pool2d::extra_repr() const {
    const size2 stride = options.stride == size2(0) ? options.kernel_size : options.stride;
    std::ostringstream os;
    os << "kernel_size=" << pair_text(options.kernel_size) << ", stride=" << pair_text(stride)
       << ", padding=" << pair_text(options.padding);
    return os.str();
}

tensor adaptive_avg_pool2d::forward(const tensor& x) {
    return eager::adaptive_avg_pool2d(x, output_size.array());
}
sizes adaptive_avg_pool2d::output_shape(const sizes& input) const {
    if (input.size() != 4)
        throw shape_mismatch("adaptive_avg_pool2d: the input has shape " + input.str() +
                             ", expected [N, C, H, W]");
    return {input[0], input[1], output_size.h, output_size.w};
}
std::string adaptive_avg_pool2d::extra_repr() const {
    return "output_size=" + pair_text(output_size);
}

// ---- containers ----------------------------------------------------------------------------------

// Each child is called through call_child, so that an error names its path ("features.2").
tensor sequential::forward(const tensor& x) {
    tensor y = x;
    for (std::size_t i = 0; i < layers_.size(); ++i)
        y = call_child(named_children()[i].first, *layers_[i], [&] { return layers_[i]->forward(y); });
    return y;
}

sizes sequential::output_shape(const sizes& input) const {
    sizes s = input;
    for (std::size_t i = 0; i < layers_.size(); ++i)
        s = call_child(named_children()[i].first, *layers_[i], [&] { return layers_[i]->output_shape(s); });
    return s;
}

sizes sequential::materialize_tree(const sizes& input) {
    sizes s = input;
    for (std::size_t i = 0; i < layers_.size(); ++i)
        s = call_child(named_children()[i].first, *layers_[i], [&] { return layers_[i]->materialize(s); });
    return s;
}

}  // namespace katachi::eager::nn
