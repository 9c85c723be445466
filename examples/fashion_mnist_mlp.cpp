// The main demo until the graph and eager faces land: an MLP 784-256-128-10 trained on the real
// Fashion-MNIST (Debian's dataset-fashion-mnist) with katachi's kernels alone, SGD with momentum
// as torch.optim.SGD does it. Prints the loss and test accuracy after each epoch.
//
//   fashion_mnist_mlp [epochs=3] [data folder=/usr/share/datasets/fashion-mnist]
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <katachi/io/idx.hpp>
#include <katachi/kernels/cross_entropy.hpp>
#include <katachi/kernels/linear.hpp>
#include <katachi/kernels/relu.hpp>
#include <katachi/random.hpp>
#include <numeric>
#include <string>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

namespace kk = katachi::kernels;

namespace {

// A fully connected layer's parameters, gradients and SGD momentum buffers, initialised as
// PyTorch's nn.Linear: weight and bias uniform in +-1/sqrt(in_features).
struct dense {
    xt::xtensor<float, 2> w, dw, vw;
    xt::xtensor<float, 1> b, db, vb;

    dense(std::size_t in, std::size_t out, katachi::generator& gen)
        : w({out, in}),
          dw({out, in}),
          vw(xt::zeros<float>({out, in})),
          b(xt::xtensor<float, 1>::from_shape({out})),
          db(xt::xtensor<float, 1>::from_shape({out})),
          vb(xt::zeros<float>({out})) {
        const float bound = 1.0f / std::sqrt(static_cast<float>(in));
        for (auto& v : w) v = bound * (2.0f * gen.uniform() - 1.0f);
        for (auto& v : b) v = bound * (2.0f * gen.uniform() - 1.0f);
    }

    // v = momentum v + g; p -= lr v (torch.optim.SGD with momentum, no dampening).
    void step(float lr, float momentum) {
        for (std::size_t i = 0; i < w.size(); ++i) {
            vw.data()[i] = momentum * vw.data()[i] + dw.data()[i];
            w.data()[i] -= lr * vw.data()[i];
        }
        for (std::size_t i = 0; i < b.size(); ++i) {
            vb.data()[i] = momentum * vb.data()[i] + db.data()[i];
            b.data()[i] -= lr * vb.data()[i];
        }
    }
};

// Activations and their gradients for one batch; sized once, reused every step.
struct mlp {
    static constexpr std::array<std::size_t, 4> widths{784, 256, 128, 10};
    std::vector<dense> layers;
    std::vector<xt::xtensor<float, 2>> act, grad;  // act[0] is the input, act[3] the logits
    xt::xtensor<float, 2> log_probs;

    mlp(std::size_t batch, katachi::generator& gen) {
        for (std::size_t i = 0; i + 1 < widths.size(); ++i)
            layers.emplace_back(widths[i], widths[i + 1], gen);
        for (std::size_t w : widths) {
            act.emplace_back(std::array<std::size_t, 2>{batch, w});
            grad.emplace_back(std::array<std::size_t, 2>{batch, w});
        }
        log_probs = xt::xtensor<float, 2>({batch, widths.back()});
    }

    void forward() {
        for (std::size_t i = 0; i < layers.size(); ++i) {
            kk::linear_forward(act[i], layers[i].w, layers[i].b, act[i + 1]);
            if (i + 1 < layers.size()) kk::relu_forward(act[i + 1], act[i + 1]);
        }
    }

    float train_step(const xt::xtensor<std::int64_t, 1>& target, float lr, float momentum) {
        forward();
        const float loss = kk::cross_entropy_forward(act.back(), target, log_probs);
        kk::cross_entropy_backward(log_probs, target, 1.0f, grad.back());
        for (std::size_t i = layers.size(); i-- > 0;) {
            if (i + 1 < layers.size()) kk::relu_backward(act[i + 1], grad[i + 1], grad[i + 1]);
            if (i > 0)
                kk::linear_backward(act[i], layers[i].w, grad[i + 1], grad[i], layers[i].dw, layers[i].db);
            else
                kk::linear_backward(act[i], layers[i].w, grad[i + 1], kk::none, layers[i].dw, layers[i].db);
        }
        for (auto& l : layers) l.step(lr, momentum);
        return loss;
    }
};

// Copies samples order[first, first + batch) into the batch input and target; past the end of
// `order` the last sample is repeated (the caller ignores those rows).
void gather(const xt::xtensor<float, 4>& images, const xt::xtensor<std::int64_t, 1>& labels,
            const std::vector<std::size_t>& order, std::size_t first, xt::xtensor<float, 2>& x,
            xt::xtensor<std::int64_t, 1>& y) {
    const std::size_t pixels = x.shape()[1];
    for (std::size_t i = 0; i < x.shape()[0]; ++i) {
        const std::size_t s = order[std::min(first + i, order.size() - 1)];
        std::copy_n(images.data() + s * pixels, pixels, x.data() + i * pixels);
        y(i) = labels(s);
    }
}

double accuracy(mlp& net, const xt::xtensor<float, 4>& images, const xt::xtensor<std::int64_t, 1>& labels) {
    const std::size_t batch = net.act[0].shape()[0], n = labels.size();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    auto y = xt::xtensor<std::int64_t, 1>::from_shape({batch});
    std::size_t correct = 0;
    for (std::size_t first = 0; first < n; first += batch) {
        gather(images, labels, order, first, net.act[0], y);
        net.forward();
        for (std::size_t i = 0; i < std::min(batch, n - first); ++i) {
            const float* row = net.act.back().data() + i * 10;
            correct += static_cast<std::int64_t>(std::max_element(row, row + 10) - row) == y(i);
        }
    }
    return static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) try {
    const int epochs = argc > 1 ? std::atoi(argv[1]) : 3;
    const auto data =
        katachi::io::load_fashion_mnist(argc > 2 ? argv[2] : katachi::io::fashion_mnist_default_dir);
    std::printf("Fashion-MNIST: %zu training and %zu test images\n", data.train_labels.size(),
                data.test_labels.size());

    constexpr std::size_t batch = 64;
    constexpr float lr = 0.01f, momentum = 0.9f;
    katachi::generator gen(0);
    mlp net(batch, gen);
    std::printf("MLP 784-256-128-10, SGD lr %.2f momentum %.1f, batch %zu\n", static_cast<double>(lr),
                static_cast<double>(momentum), batch);

    std::vector<std::size_t> order(data.train_labels.size());
    std::iota(order.begin(), order.end(), 0);
    auto target = xt::xtensor<std::int64_t, 1>::from_shape({batch});
    for (int epoch = 1; epoch <= epochs; ++epoch) {
        for (std::size_t i = order.size() - 1; i > 0; --i)  // Fisher-Yates with katachi's generator
            std::swap(order[i],
                      order[static_cast<std::size_t>(gen.uniform() * static_cast<float>(i + 1)) % (i + 1)]);
        const auto start = std::chrono::steady_clock::now();
        double loss_sum = 0;
        std::size_t steps = 0;
        for (std::size_t first = 0; first + batch <= order.size(); first += batch, ++steps) {
            gather(data.train_images, data.train_labels, order, first, net.act[0], target);
            loss_sum += net.train_step(target, lr, momentum);
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("epoch %d: mean loss %.4f, %.2f s, test accuracy %.4f\n", epoch,
                    loss_sum / static_cast<double>(steps), seconds,
                    accuracy(net, data.test_images, data.test_labels));
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist_mlp: %s\n", e.what());
    return 1;
}
