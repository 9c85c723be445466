#include <iostream>
#include <katachi/katachi.hpp>

namespace kk = katachi::kernels;

// Shapes are types and their arithmetic runs at compile time, with PyTorch's rules.
static_assert(katachi::shape<64, 7, 7>::size == 3136);
static_assert(katachi::conv_output({.input = 28, .kernel = 3, .padding = 1}).value == 28);
static_assert(katachi::pool_output({.input = 28, .kernel = 2, .stride = 2}).value == 14);

int main() {
    // LeNet's first stage on a batch of 2 images, forward and backward, on buffers we own.
    xt::xtensor<float, 4> x = xt::ones<float>({2, 1, 28, 28}), conv({2, 32, 28, 28}), pooled({2, 32, 14, 14});
    xt::xtensor<float, 4> w = xt::full_like(xt::xtensor<float, 4>({32, 1, 3, 3}), 0.1f);
    xt::xtensor<float, 1> b = xt::zeros<float>({32});
    xt::xtensor<std::int64_t, 4> argmax({2, 32, 14, 14});
    const kk::conv2d_options conv_opts{.padding = {1, 1}};

    kk::conv2d_forward(x, w, b, conv, conv_opts);
    kk::relu_forward(conv, conv);
    kk::max_pool2d_forward(conv, pooled, argmax, {.kernel_size = {2, 2}});

    xt::xtensor<float, 4> d_pooled = xt::ones_like(pooled), d_conv(conv.shape()), dw(w.shape());
    kk::max_pool2d_backward(d_pooled, argmax, d_conv);
    kk::relu_backward(conv, d_conv, d_conv);
    kk::conv2d_backward(x, w, d_conv, kk::none, dw, kk::none, conv_opts);

    std::cout << katachi::shape<32, 14, 14>{} << ": " << pooled(0, 0, 7, 7) << ", dw[0] = " << dw(0, 0, 1, 1)
              << '\n';
}
