// Writes the checkpoint of test/graph/flash_net.hpp that the flash_model tests embed: a seeded model
// after two training steps, so that batch norm's running statistics are not their initial values.
//
//   make_flash_checkpoint OUTPUT.safetensors
#include <iostream>
#include <katachi/graph/state_dict.hpp>
#include <katachi/optim/sgd.hpp>
#include <xtensor/xtensor.hpp>

#include "flash_net.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: make_flash_checkpoint OUTPUT.safetensors\n";
        return 2;
    }
    using net = katachi::test::models::flash_net;
    katachi::graph::model<net> m(11);
    katachi::optim::sgd<float> opt(m.parameters(), {.lr = 0.05});
    xt::xtensor<float, 4> x(std::array<std::size_t, 4>{8, 2, 10, 10});
    katachi::generator gen(4);
    for (auto& v : x) v = gen.uniform<float>(-1.0f, 2.0f);
    xt::xtensor<std::int64_t, 1> labels = {0, 1, 2, 3, 3, 2, 1, 0};
    for (int step = 0; step < 2; ++step) {
        m.forward(x);
        m.cross_entropy(labels);
        m.backward();
        opt.step();
    }
    katachi::graph::save(m, argv[1]);
    return 0;
}
