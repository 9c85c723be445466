// The parameter-free layers and the containers.
#include <sstream>
#include <typeinfo>

#include "../ops/fused.hpp"
#include "katachi/eager/functional/arithmetic.hpp"
#include "katachi/eager/functional/layers.hpp"
#include "katachi/eager/modules/activation.hpp"
#include "katachi/eager/modules/container.hpp"
#include "katachi/eager/modules/conv.hpp"
#include "katachi/eager/modules/lazy.hpp"
#include "katachi/eager/modules/pooling.hpp"
#include "katachi/kernels/flatten.hpp"
#include "katachi/ops/dropout.hpp"

namespace katachi::eager::nn {

namespace {

std::string number(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
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
    const ops::rule r = ops::dropout::output_shape({.p = p}, ops::dims{});  // the op's sentence for a bad p
    if (!r.ok()) throw std::invalid_argument("dropout: " + std::string(r.why.view()));
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

// ---- containers ----------------------------------------------------------------------------------

// Each child is called through call_child, so that an error names its path ("features.2").
// A relu followed by a max pooling runs as one op (eager/ops/fused.hpp: the same values and
// gradients without the relu's two full-size passes), called as the pooling, which the tape
// then names; only the library's own two modules are taken so, not classes derived from them.
// A convolution (conv2d, or lazy_conv2d once materialised) before such a pair runs with it as one
// op where the graph face would fuse the three (ops::conv_relu_max_pool2d), called as the
// convolution, its node named conv2d_relu_max_pool2d; elsewhere it runs alone.
tensor sequential::forward(const tensor& x) {
    tensor y = x;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        const module* here = layers_[i].get();
        const module* next = i + 1 < layers_.size() ? layers_[i + 1].get() : nullptr;
        const module* after = i + 2 < layers_.size() ? layers_[i + 2].get() : nullptr;
        if (after && (typeid(*here) == typeid(conv2d) || typeid(*here) == typeid(lazy_conv2d)) &&
            typeid(*next) == typeid(relu) && typeid(*after) == typeid(max_pool2d) &&
            !here->has_uninitialized_params()) {
            const auto& conv = static_cast<const conv2d&>(*here);
            const auto& pool = static_cast<const max_pool2d&>(*after);
            if (eager::detail::conv2d_relu_max_pool2d_fits(conv.options, pool.options, y.shape())) {
                y = call_child(named_children()[i].first, conv, [&] {
                    return eager::detail::conv2d_relu_max_pool2d(y, conv.weight, conv.bias, conv.options,
                                                                 pool.options);
                });
                i += 2;
                continue;
            }
        }
        if (next && typeid(*here) == typeid(relu) && typeid(*next) == typeid(max_pool2d)) {
            const auto& pool = static_cast<const max_pool2d&>(*next);
            ++i;
            y = call_child(named_children()[i].first, pool,
                           [&] { return eager::detail::relu_max_pool2d(y, pool.options); });
            continue;
        }
        y = call_child(named_children()[i].first, *layers_[i], [&] { return layers_[i]->forward(y); });
    }
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

namespace {
sizes checked_sum_shape(const sizes& body, const sizes& skip) {
    if (!(body == skip))
        throw shape_mismatch("residual: the body gives " + body.str() + " and the shortcut " + skip.str() +
                             "; the sum takes one shape");
    return body;
}
}  // namespace

tensor residual::forward(const tensor& x) {
    const tensor body = call_child("body", *body_, [&] { return body_->forward(x); });
    return body + (shortcut_ ? call_child("shortcut", *shortcut_, [&] { return shortcut_->forward(x); }) : x);
}

sizes residual::output_shape(const sizes& input) const {
    const sizes body = call_child("body", *body_, [&] { return body_->output_shape(input); });
    return checked_sum_shape(
        body, shortcut_ ? call_child("shortcut", *shortcut_, [&] { return shortcut_->output_shape(input); }) : input);
}

sizes residual::materialize_tree(const sizes& input) {
    const sizes body = call_child("body", *body_, [&] { return body_->materialize(input); });
    return checked_sum_shape(
        body, shortcut_ ? call_child("shortcut", *shortcut_, [&] { return shortcut_->materialize(input); }) : input);
}

std::vector<graph_step> residual::graph_form() const {
    if (!shortcut_) return {{.op = "body"}, {.op = "add", .from = {"body", "input"}}};
    return {
        {.op = "body"}, {.op = "shortcut", .from = {"input"}}, {.op = "add", .from = {"body", "shortcut"}}};
}

}  // namespace katachi::eager::nn
