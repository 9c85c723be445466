// The LeNet on Fashion-MNIST in the graph face, as a user writes it: data, model, optimiser and
// schedule, one epoch, the test accuracy. `lenet_graph [N]` trains on the first N training images (all by default).
#include <cstdio>
#include <cstdlib>
#include <katachi/data.hpp>
#include <katachi/graph.hpp>
#include <katachi/optim/adam.hpp>
#include <katachi/optim/cosine_annealing_lr.hpp>

namespace data = katachi::data;
using namespace katachi::graph;

using lenet = sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, relu, max_pool2d<2>,  //
                         conv2d<64, 3, padding<1>>, relu, max_pool2d<2>,                   //
                         flatten, linear<128>, relu, linear<10>>;

int main(int argc, char** argv) {
    auto [train, test] = data::fashion_mnist_datasets();  // Debian's dataset-fashion-mnist
    train.truncate(argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 0);
    const auto norm = data::normalize::fit(train);
    train.map(norm);
    test.map(norm);

    model<lenet> net(/*seed=*/0);
    katachi::optim::adam<float> opt(net.parameters(), {.lr = 2e-3});
    data::data_loader loader(train, {.batch_size = 64, .shuffle = true, .seed = 1});
    katachi::optim::cosine_annealing_lr schedule(opt, {.T_max = static_cast<std::int64_t>(loader.size())});
    for (const auto& batch : loader) {
        net.forward(batch.input());
        net.cross_entropy(batch.targets());
        net.backward();
        opt.step();
        schedule.step();  // per batch: the rate falls to 0 over the epoch
    }

    net.eval();
    data::confusion_matrix result(10);
    for (const auto& batch : data::data_loader(test, {.batch_size = 256}))
        result.add_logits(net.forward(batch.input()), batch.target_span());
    std::printf("test accuracy %.4f\n", result.accuracy());
}
