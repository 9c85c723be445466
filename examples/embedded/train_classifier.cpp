// examples/embedded/train_classifier.cpp: trains the microcontroller classifier (classifier.hpp) on
// Fashion-MNIST with the graph face, on the host, and saves its checkpoint.
//
//   train_classifier OUTPUT.safetensors [EPOCHS]
//
// classifier.safetensors beside this file was written by it (5 epochs, seed 1); the embedded
// suite bakes that file into the device image with katachi-embed and checks its test accuracy.
#include <cstdio>
#include <cstdlib>
#include <katachi/graph/model.hpp>
#include <katachi/graph/state_dict.hpp>
#include <katachi/io/idx.hpp>
#include <katachi/optim/adam.hpp>
#include <numeric>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "classifier.hpp"

namespace {

// The images as bytes again ([0, 1] floats times 255 are exact), normalised as the device does it.
xt::xtensor<float, 4> normalised(const xt::xtensor<float, 4>& images) {
    xt::xtensor<float, 4> out(images.shape());
    for (std::size_t i = 0; i < images.size(); ++i)
        out.data()[i] = classifier::normalise(static_cast<std::uint8_t>(images.data()[i] * 255.0f + 0.5f));
    return out;
}

template <class Model>
double accuracy(Model& m, const xt::xtensor<float, 4>& x, const xt::xtensor<std::int64_t, 1>& y) {
    m.eval();
    const std::size_t n = x.shape()[0], b = 500;
    std::size_t right = 0;
    for (std::size_t first = 0; first < n; first += b) {
        const std::size_t count = std::min(b, n - first);
        xt::xtensor<float, 4> batch(std::array<std::size_t, 4>{count, 1, 28, 28});
        std::copy(x.data() + first * 784, x.data() + (first + count) * 784, batch.data());
        const auto logits = m.forward(batch);
        for (std::size_t i = 0; i < count; ++i) {
            std::size_t best = 0;
            for (std::size_t c = 1; c < 10; ++c)
                if (logits(i, c) > logits(i, best)) best = c;
            right += static_cast<std::int64_t>(best) == y(first + i);
        }
    }
    m.train();
    return static_cast<double>(right) / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: train_classifier OUTPUT.safetensors [EPOCHS]\n");
        return 2;
    }
    const int epochs = argc == 3 ? std::atoi(argv[2]) : 5;
    const auto data = katachi::io::load_fashion_mnist();
    const auto train_x = normalised(data.train_images), test_x = normalised(data.test_images);
    katachi::graph::model<classifier::network> m(1);
    katachi::optim::adam<float> opt(m.parameters(), {.lr = 2e-3});
    const std::size_t n = train_x.shape()[0], b = 64;
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    katachi::generator gen(2);
    xt::xtensor<float, 4> x(std::array<std::size_t, 4>{b, 1, 28, 28});
    xt::xtensor<std::int64_t, 1> y(std::array<std::size_t, 1>{b});
    for (int epoch = 1; epoch <= epochs; ++epoch) {
        for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[gen() % i]);
        for (std::size_t first = 0; first + b <= n; first += b) {
            for (std::size_t k = 0; k < b; ++k) {
                const std::size_t s = order[first + k];
                std::copy(train_x.data() + s * 784, train_x.data() + (s + 1) * 784, x.data() + k * 784);
                y(k) = data.train_labels(s);
            }
            m.forward(x);
            m.cross_entropy(y);
            m.backward();
            opt.step();
        }
        std::printf("epoch %d: test accuracy %.4f\n", epoch, accuracy(m, test_x, data.test_labels));
    }
    katachi::graph::save(m, argv[1]);
    return 0;
}
