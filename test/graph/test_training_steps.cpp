// Suite `graph`: three training steps of a model stepped by sgd with momentum and by adam follow
// PyTorch step for step: losses, parameters and running statistics (test/data/graph.safetensors,
// made by fixtures_graph.py).
#include <catch2/catch.hpp>
#include <katachi/graph.hpp>
#include <katachi/graph/state_dict.hpp>
#include <katachi/parallel.hpp>
#include <katachi/random.hpp>
#include <katachi/optim/adam.hpp>
#include <katachi/optim/sgd.hpp>
#include <xtensor/xadapt.hpp>

#include "graph/models.hpp"
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

namespace {

// The parameters after three adam steps of the LeNet at batch 29 (uneven parts) on `threads`.
std::vector<std::vector<float>> lenet_after_steps(int threads) {
    katachi::set_num_threads(threads);
    model<test::models::lenet> m(5);
    optim::adam<float> opt(m.parameters(), optim::adam_options{});
    xt::xtensor<float, 4> x(std::array<std::size_t, 4>{29, 1, 28, 28});
    xt::xtensor<std::int64_t, 1> y(std::array<std::size_t, 1>{29});
    katachi::generator gen(11);
    for (auto& v : x) v = gen.uniform<float>();
    for (std::size_t i = 0; i < 29; ++i) y(i) = static_cast<std::int64_t>(i % 10);
    for (int step = 0; step < 3; ++step) {
        m.forward(x);
        m.cross_entropy(y);
        m.backward();
        opt.step();
    }
    std::vector<std::vector<float>> out;
    for (const auto& [name, t] : state_dict(m)) {
        const auto values = t.as<float>();
        out.emplace_back(values.begin(), values.end());
    }
    return out;
}

}  // namespace

TEST_CASE("in deterministic mode graph-face training is bit-identical on one, two and three threads",
          "[graph][deterministic]") {
    const int saved_threads = katachi::get_num_threads();
    katachi::set_deterministic(true);
    const auto one = lenet_after_steps(1);
    const auto two = lenet_after_steps(2);
    const auto three = lenet_after_steps(3);
    katachi::set_deterministic(false);
    katachi::set_num_threads(saved_threads);
    CHECK(two == one);
    CHECK(three == one);
}
