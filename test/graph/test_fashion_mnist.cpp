// Suite `graph`: a small model learns real data. An MLP trained for two epochs on the first 10,000
// Fashion-MNIST training images (sgd, momentum 0.9, batch 64) must lower its loss and classify the
// first 2,000 test images with an accuracy of at least 0.80.
#include <catch2/catch.hpp>
#include <katachi/graph.hpp>
#include <katachi/io/idx.hpp>
#include <katachi/optim/sgd.hpp>
#include <xtensor/xview.hpp>

namespace {

using namespace katachi;
using namespace katachi::graph;

using net = sequential<input<1, 28, 28>, flatten, linear<128>, relu, linear<10>>;

TEST_CASE("an MLP trained on a Fashion-MNIST subset lowers its loss and reaches 0.80 test accuracy",
          "[graph][fashion_mnist]") {
    const io::fashion_mnist data = io::load_fashion_mnist();
    constexpr std::size_t train = 10'000, test = 2'000, batch = 64;
    model<net> m(0);
    optim::sgd<float> opt(m.parameters(), {.lr = 0.05, .momentum = 0.9});
    xt::xtensor<float, 4> x(std::array<std::size_t, 4>{batch, 1, 28, 28});
    xt::xtensor<std::int64_t, 1> y(std::array<std::size_t, 1>{batch});
    double first_loss = 0, last_loss = 0;
    constexpr std::size_t steps_per_epoch = train / batch, window = 20;
    for (std::size_t epoch = 0; epoch < 2; ++epoch) {
        for (std::size_t s = 0; s < steps_per_epoch; ++s) {
            x = xt::view(data.train_images, xt::range(s * batch, (s + 1) * batch));
            y = xt::view(data.train_labels, xt::range(s * batch, (s + 1) * batch));
            m.forward(x);
            const float loss = m.cross_entropy(y);
            m.backward();
            opt.step();
            if (epoch == 0 && s < window) first_loss += loss / window;
            if (epoch == 1 && s >= steps_per_epoch - window) last_loss += loss / window;
        }
    }
    INFO("mean loss of the first 20 steps " << first_loss << ", of the last 20 " << last_loss);
    CHECK(last_loss < 0.5 * first_loss);

    m.eval();
    std::size_t correct = 0;
    for (std::size_t s = 0; s < test / batch; ++s) {
        x = xt::view(data.test_images, xt::range(s * batch, (s + 1) * batch));
        const auto logits = m.forward(x);
        for (std::size_t i = 0; i < batch; ++i) {
            std::size_t best = 0;
            for (std::size_t c = 1; c < 10; ++c)
                if (logits(i, c) > logits(i, best)) best = c;
            correct += best == static_cast<std::size_t>(data.test_labels(s * batch + i));
        }
    }
    const double accuracy = static_cast<double>(correct) / static_cast<double>(test / batch * batch);
    INFO("test accuracy " << accuracy);
    CHECK(accuracy >= 0.80);
}

}  // namespace
