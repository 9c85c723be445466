// The LeNet on Fashion-MNIST in the eager face, as a user writes it: data, lazy modules, optimiser
// and schedule, one epoch, the test accuracy. `lenet_eager [N]` trains on the first N training images (all by
// default).
#include <cstdio>
#include <cstdlib>
#include <katachi/data.hpp>
#include <katachi/data/eager.hpp>
#include <katachi/eager.hpp>
#include <katachi/optim/cosine_annealing_lr.hpp>

namespace data = katachi::data;
namespace eager = katachi::eager;
namespace nn = katachi::eager::nn;

int main(int argc, char** argv) {
    auto [train, test] = data::fashion_mnist_datasets();  // Debian's dataset-fashion-mnist
    train.truncate(argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 0);
    const auto norm = data::normalize::fit(train);
    train.map(norm);
    test.map(norm);

    nn::sequential net(nn::lazy_conv2d({.out_channels = 32, .kernel_size = 3, .padding = 1}), nn::relu(),
                       nn::max_pool2d(), nn::lazy_conv2d({.out_channels = 64, .kernel_size = 3, .padding = 1}),
                       nn::relu(), nn::max_pool2d(), nn::flatten(), nn::lazy_linear({.out_features = 128}),
                       nn::relu(), nn::lazy_linear({.out_features = 10}));
    net.materialize({1, 1, 28, 28});  // the lazy sizes, fixed before the optimiser takes the parameters
    katachi::optim::adam<float> opt(nn::optimiser_parameters(net), {.lr = 2e-3});
    data::data_loader loader(train, {.batch_size = 64, .shuffle = true, .seed = 1});
    katachi::optim::cosine_annealing_lr schedule(opt, {.T_max = static_cast<std::int64_t>(loader.size())});
    for (const auto& batch : loader) {
        opt.zero_grad();
        eager::cross_entropy(net(data::input_tensor(batch)), batch.target_span()).backward();
        opt.step();
        schedule.step();
    }

    net.eval();
    const eager::no_grad no_grad;
    data::confusion_matrix result(10);
    for (const auto& batch : data::data_loader(test, {.batch_size = 256}))
        result.add_logits(net(data::input_tensor(batch)), batch.target_span());
    std::printf("test accuracy %.4f\n", result.accuracy());
}
