// examples/embedded/classifier_host.cpp: what the device image (classifier_demo.cpp) computes, done
// by the graph face on the host, in the same lines: the predictions and logits of the images the
// device holds (graph::inference_model), then the head's fine-tuning (graph::model and optim::sgd on
// the trunk's features). check_classifier.py compares the two runs. It also prints the checkpoint's
// accuracy on the whole test set.
//
//   classifier_host CHECKPOINT.safetensors
#include <bit>
#include <cstdio>
#include <katachi/graph/inference.hpp>
#include <katachi/graph/model.hpp>
#include <katachi/graph/state_dict.hpp>
#include <katachi/io/idx.hpp>
#include <katachi/optim/sgd.hpp>
#include <memory>
#include <xtensor/xtensor.hpp>

#include "classifier.hpp"

namespace {

using classifier::batch;

unsigned bits(float v) { return std::bit_cast<std::uint32_t>(v); }

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: classifier_host CHECKPOINT.safetensors\n");
        return 2;
    }
    katachi::graph::model<classifier::network> trained;
    katachi::graph::load(trained, argv[1]);
    const auto dir = katachi::io::fashion_mnist_default_dir;
    const auto raw = katachi::io::read_idx(dir / "t10k-images-idx3-ubyte.gz");
    const auto labels = katachi::io::read_idx_labels(dir / "t10k-labels-idx1-ubyte.gz");
    const std::size_t n = raw.shape[0];
    xt::xtensor<float, 4> images(std::array<std::size_t, 4>{n, 1, 28, 28});
    for (std::size_t i = 0; i < images.size(); ++i)
        images.data()[i] = classifier::normalise(static_cast<std::uint8_t>(raw.values[i]));

    auto net = std::make_unique<katachi::graph::inference_model<classifier::network, float, batch>>();
    // (The device runs one image at a time; the logits agree to float rounding whatever the batch.)
    net->load(trained);
    const auto images_at = [&](std::size_t first, std::size_t count) {
        xt::xtensor<float, 4> x(std::array<std::size_t, 4>{count, 1, 28, 28});
        std::copy(images.data() + first * 784, images.data() + (first + count) * 784, x.data());
        return x;
    };
    std::size_t right_all = 0, right = 0;
    for (std::size_t first = 0; first < n; first += batch) {
        const std::size_t count = std::min(batch, n - first);
        const auto logits = net->forward(images_at(first, count));
        for (std::size_t i = 0; i < count; ++i) {
            unsigned best = 0;
            for (unsigned c = 1; c < 10; ++c)
                if (logits(i, c) > logits(i, best)) best = c;
            const auto label = static_cast<unsigned>(labels(first + i));
            right_all += best == label;
            if (first + i >= classifier::inference_images) continue;
            right += best == label;
            std::printf("predict %zu %u %u", first + i, best, label);
            for (unsigned c = 0; c < 10; ++c) std::printf(" 0x%08x", bits(logits(i, c)));
            std::printf("\n");
        }
    }
    std::printf("correct %zu of %zu\n", right, classifier::inference_images);
    std::printf("accuracy %.4f on %zu test images\n", static_cast<double>(right_all) / static_cast<double>(n), n);

    // The head's fine-tuning, on features of the trunk.
    katachi::graph::model<classifier::trunk> trunk;
    std::copy(trained.all_parameters().begin(), trained.all_parameters().begin() + classifier::trunk::parameter_count,
              trunk.all_parameters().begin());
    trunk.eval();
    const auto features = xt::xtensor<float, 2>(trunk.forward(images_at(0, classifier::fine_tune_images)));
    katachi::graph::model<classifier::head> head;
    std::copy(trained.all_parameters().end() - classifier::head::parameter_count, trained.all_parameters().end(),
              head.all_parameters().begin());
    katachi::optim::sgd<float> sgd(head.parameters(), {.lr = classifier::fine_tune_lr});
    for (std::size_t step = 0; step < classifier::fine_tune_steps; ++step) {
        const std::size_t first = step * batch % classifier::fine_tune_images;
        xt::xtensor<float, 2> x(std::array<std::size_t, 2>{batch, 32});
        std::copy(features.data() + first * 32, features.data() + (first + batch) * 32, x.data());
        xt::xtensor<std::int64_t, 1> y(std::array<std::size_t, 1>{batch});
        for (std::size_t i = 0; i < batch; ++i) y(i) = labels(first + i);
        head.forward(x);
        const float loss = head.cross_entropy(y);
        head.backward();
        sgd.step();
        std::printf("loss %zu 0x%08x\n", step, bits(loss));
    }
    for (std::size_t k = 0; k < classifier::head::parameter_count; ++k)
        std::printf("head %zu 0x%08x\n", k, bits(head.all_parameters()[k]));
    return 0;
}
