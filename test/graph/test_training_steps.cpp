// Suite `graph`: three training steps of a model stepped by sgd with momentum and by adam follow
// PyTorch step for step: losses, parameters and running statistics (test/data/graph.safetensors,
// made by fixtures_graph.py).
#include <catch2/catch.hpp>
#include <katachi/graph.hpp>
#include <katachi/optim/adam.hpp>
#include <katachi/optim/sgd.hpp>
#include <xtensor/xadapt.hpp>

#include "support/fixtures.hpp"

namespace {

using namespace katachi;
using namespace katachi::graph;

using net =
    sequential<input<2, 5, 4>, conv2d<3, 3, padding<1>, bias<false>>, batch_norm2d, relu, flatten, linear<4>>;

template <class Optimiser, class Options>
void check_steps(const std::string& key, Options options) {
    static const io::safetensors_file f = test::load_fixture_file("graph.safetensors");
    io::tensor_map initial;
    for (const auto& [name, t] : f.tensors)
        if (name.starts_with("opt.param.")) initial[name.substr(10)] = t;
    model<net> m;
    load_state_dict(m, initial);
    Optimiser opt(m.parameters(), options);
    const auto x = test::fixture<float>(f, "opt.input");
    const auto t = test::fixture<std::int64_t>(f, "opt.target");
    for (int i = 0; i < 3; ++i) {
        m.forward(x);
        const float loss = m.cross_entropy(t);
        m.backward();
        opt.step();
        const std::string step = key + ".step" + std::to_string(i) + ".";
        INFO(step);
        CHECK(loss == Approx(test::fixture<float>(f, key + ".loss" + std::to_string(i))()).epsilon(1e-5));
        for (const auto& [name, tensor] : state_dict(m)) {
            INFO(name);
            if (tensor.type == io::dtype::i64) {
                CHECK(tensor.template as<std::int64_t>()() == test::fixture<std::int64_t>(f, step + name)());
                continue;
            }
            const auto expected = test::fixture<float>(f, step + name);
            test::require_allclose(tensor.template as<float>(), expected, 1e-4, 1e-6);
        }
    }
}

TEST_CASE("three sgd steps with momentum follow PyTorch", "[graph][optim]") {
    check_steps<optim::sgd<float>>("sgd", optim::sgd_options{.lr = 0.1, .momentum = 0.9});
}

TEST_CASE("three adam steps follow PyTorch", "[graph][optim]") {
    check_steps<optim::adam<float>>("adam", optim::adam_options{.lr = 0.01});
}

}  // namespace
