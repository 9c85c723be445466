// test/bridge/eager_models.hpp: the lazy eager models the bridge tests turn into graph-face types.
#pragma once

#include <cstddef>
#include <katachi/eager.hpp>
#include <memory>

namespace katachi::test::bridge {

namespace nn = katachi::eager::nn;
using eager::tensor;

// The demo's LeNet (examples/fashion_mnist/eager_face.cpp): no input size written anywhere.
inline std::shared_ptr<nn::sequential> lenet() {
    using namespace nn;
    return std::make_shared<sequential>(
        lazy_conv2d({.out_channels = 32, .kernel_size = 3, .padding = 1}), relu(), max_pool2d(),
        lazy_conv2d({.out_channels = 64, .kernel_size = 3, .padding = 1}), relu(), max_pool2d(), flatten(),
        lazy_linear({.out_features = 128}), relu(), lazy_linear({.out_features = 10}));
}

// An MLP with BatchNorm1d and dropout (the identity in evaluation).
inline std::shared_ptr<nn::sequential> mlp_bn() {
    using namespace nn;
    return std::make_shared<sequential>(lazy_linear({.out_features = 32}), lazy_batch_norm1d(), relu(),
                                        dropout(0.25), lazy_linear({.out_features = 5}));
}

// A ResNet basic block, as PyTorch's torchvision writes it: relu(bn2(conv2(relu(bn1(conv1(x))))) + x).
// graph_form() tells the bridge so.
class basic_block : public nn::module {
public:
    explicit basic_block(std::size_t channels) {
        const nn::conv2d_options conv{
            .out_channels = channels, .kernel_size = 3, .padding = 1, .bias = false};
        conv1 = register_module("conv1", std::make_shared<nn::lazy_conv2d>(conv));
        bn1 = register_module("bn1", std::make_shared<nn::lazy_batch_norm2d>());
        relu1 = register_module("relu1", std::make_shared<nn::relu>());
        conv2 = register_module("conv2", std::make_shared<nn::lazy_conv2d>(conv));
        bn2 = register_module("bn2", std::make_shared<nn::lazy_batch_norm2d>());
        relu2 = register_module("relu2", std::make_shared<nn::relu>());
    }
    std::string type_name() const override { return "basic_block"; }
    eager::sizes output_shape(const eager::sizes& input) const override { return input; }
    eager::sizes materialize_tree(const eager::sizes& input) override {
        eager::sizes s = input;
        for (const auto& [name, child] : named_children()) s = child->materialize(s);
        return input;
    }
    tensor forward(const tensor& x) override {
        const tensor y = (*bn2)((*conv2)((*relu1)((*bn1)((*conv1)(x)))));
        return (*relu2)(y + x);
    }
    std::vector<nn::graph_step> graph_form() const override {
        return {{.op = "conv1"}, {.op = "bn1"}, {.op = "relu1"},
                {.op = "conv2"}, {.op = "bn2"}, {.op = "add", .from = {"bn2", "input"}, .name = "sum"},
                {.op = "relu2"}};
    }

    std::shared_ptr<nn::lazy_conv2d> conv1, conv2;
    std::shared_ptr<nn::lazy_batch_norm2d> bn1, bn2;
    std::shared_ptr<nn::relu> relu1, relu2;
};

// A strided stem, the block, pooling and a head: keys "2.conv1.weight", "2.bn1.running_mean", ...
inline std::shared_ptr<nn::sequential> residual() {
    using namespace nn;
    return std::make_shared<sequential>(
        lazy_conv2d({.out_channels = 8, .kernel_size = 3, .stride = 2, .padding = 1}), relu(),
        std::make_shared<basic_block>(8), avg_pool2d({.kernel_size = 2}), flatten(),
        lazy_linear({.out_features = 10}));
}

// A small ResNet from nn::residual: an identity skip around conv-bn-relu-conv-bn, then a strided
// pair with a projection shortcut (a 1x1 convolution with stride 2 and its batch norm).
inline std::shared_ptr<nn::sequential> resnet() {
    using namespace nn;
    const conv2d_options c3{.out_channels = 8, .kernel_size = 3, .padding = 1, .bias = false};
    return std::make_shared<sequential>(
        lazy_conv2d({.out_channels = 8, .kernel_size = 3, .padding = 1}), relu(),
        nn::residual(
            sequential(lazy_conv2d(c3), lazy_batch_norm2d(), relu(), lazy_conv2d(c3), lazy_batch_norm2d())),
        relu(),
        nn::residual(
            sequential(
                lazy_conv2d({.out_channels = 16, .kernel_size = 3, .stride = 2, .padding = 1, .bias = false}),
                lazy_batch_norm2d()),
            sequential(lazy_conv2d({.out_channels = 16, .kernel_size = 1, .stride = 2, .bias = false}),
                       lazy_batch_norm2d())),
        relu(), adaptive_avg_pool2d(1), flatten(), lazy_linear({.out_features = 10}));
}

// Options the graph face spells: stride, asymmetric padding, dilation, groups, bias<false>, pooling
// stride and padding, leaky_relu's slope, gelu's tanh form, adaptive pooling.
inline std::shared_ptr<nn::sequential> options_net() {
    using namespace nn;
    return std::make_shared<sequential>(
        lazy_conv2d({.out_channels = 8,
                     .kernel_size = 3,
                     .stride = {2, 1},
                     .padding = {1, 2},
                     .groups = 2,
                     .bias = false}),
        leaky_relu(0.2), max_pool2d({.kernel_size = 3, .stride = 2, .padding = 1}),
        lazy_conv2d({.out_channels = 6, .kernel_size = 3, .padding = 2, .dilation = 2}),
        gelu(eager::gelu_approximate::tanh), avg_pool2d({.kernel_size = 2, .stride = 1}),
        adaptive_avg_pool2d({2, 3}), flatten(), lazy_linear({.out_features = 6, .bias = false}), tanh());
}

// Options the graph face spells in the general form layer<op, options> or with its newer option
// types: batch norm eps, momentum None, no affine, no running statistics; ceil_mode;
// count_include_pad; a non-square kernel; layer norm with and without its affine parameters.
inline std::shared_ptr<nn::sequential> norms_net() {
    using namespace nn;
    return std::make_shared<sequential>(
        lazy_conv2d({.out_channels = 4, .kernel_size = {3, 2}, .padding = {1, 0}}),
        layer_norm({.normalized_shape = {4, 9, 8}}), relu(), max_pool2d({.kernel_size = 3, .stride = 2, .ceil_mode = true}),
        lazy_batch_norm2d({.eps = 1e-3, .momentum = std::nullopt}), tanh(),
        avg_pool2d({.kernel_size = 2, .stride = 1, .padding = 1, .count_include_pad = false}),
        lazy_batch_norm2d({.affine = false}), flatten(), lazy_linear({.out_features = 8, .bias = false}),
        lazy_batch_norm1d({.track_running_stats = false}),
        layer_norm({.normalized_shape = 8, .eps = 1e-4, .elementwise_affine = false}), lazy_linear({.out_features = 3}));
}

}  // namespace katachi::test::bridge
