#include <iomanip>
#include <iostream>
#include <katachi/katachi.hpp>

namespace g = katachi::graph;
namespace nn = katachi::eager::nn;

// The graph face: the compiler deduces every layer's input shape (linear<128> gets 3136).
using lenet = g::sequential<g::input<1, 28, 28>,                                         //
                            g::conv2d<32, 3, g::padding<1>>, g::relu, g::max_pool2d<2>,  //
                            g::conv2d<64, 3, g::padding<1>>, g::relu, g::max_pool2d<2>,  //
                            g::flatten, g::linear<128>, g::relu, g::linear<10>>;
static_assert(lenet::output_shape{} == katachi::shape<10>{});
static_assert(lenet::parameter_count == 421'642);
// using broken = g::sequential<g::input<1, 28, 28>, g::conv2d<32, 3>, g::linear<10>>;
// static_assert(g::valid<broken>);  // g++'s first error line carries the sentence:
// error: ... model_error<"node \"1\", linear<10>: takes a flat per-sample shape [features],
//                        got [32, 26, 26]: insert flatten before it", ...>

int main() {
    xt::xtensor<float, 4> x = xt::linspace<float>(0, 1, 4 * 28 * 28).reshape({4, 1, 28, 28});
    xt::xtensor<std::int64_t, 1> y = {3, 1, 4, 1};

    g::model<lenet> net(/*seed=*/0);  // PyTorch's default initialisation
    katachi::optim::sgd<float> opt(net.parameters(), {.lr = 0.01, .momentum = 0.9});
    net.forward(x);
    const float first = net.cross_entropy(y);
    net.backward();  // generated from the forward graph
    opt.step();

    // The eager face: the same network from lazy modules, which the graph's checkpoint materialises.
    nn::sequential eager_net(
        nn::lazy_conv2d({.out_channels = 32, .kernel_size = 3, .padding = 1}), nn::relu(), nn::max_pool2d(),
        nn::lazy_conv2d({.out_channels = 64, .kernel_size = 3, .padding = 1}), nn::relu(), nn::max_pool2d(),
        nn::flatten(), nn::lazy_linear({.out_features = 128}), nn::relu(),
        nn::lazy_linear({.out_features = 10}));
    eager_net.load_state_dict(g::state_dict(net));  // PyTorch's names: "0.weight" ... "9.bias"
    const auto images = katachi::eager::tensor::from(std::vector<float>(x.begin(), x.end()), {4, 1, 28, 28});
    const auto loss =
        katachi::eager::cross_entropy(eager_net(images), std::span<const std::int64_t>(y.data(), 4));
    loss.backward();

    net.forward(x);
    std::cout << std::fixed << std::setprecision(4) << "loss " << first << " -> graph "
              << net.cross_entropy(y) << ", eager " << loss.item() << '\n';
}
