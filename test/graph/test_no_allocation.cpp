// Suite `graph`: after the first step at a batch size, a training step (forward, loss, backward,
// optimiser step) performs no heap allocation; counted by replacing the global operator new.
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <katachi/optim/adam.hpp>
#include <katachi/optim/sgd.hpp>
#include <memory>
#include <new>
#include <xtensor/xtensor.hpp>

#include "graph/models.hpp"
#include "support/allocation_counter.hpp"

namespace {

using namespace katachi;

template <class Net, class Optimiser, class Options>
std::size_t allocations_in_steps(std::size_t batch, Options options, bool dropout_seeded = false) {
    graph::model<Net> m(1);
    Optimiser opt(m.parameters(), options);
    xt::xtensor<float, 1 + Net::input_shape::rank> x = [&] {
        std::array<std::size_t, 1 + Net::input_shape::rank> dims{batch};
        for (std::size_t i = 0; i < Net::input_shape::rank; ++i) dims[i + 1] = Net::input_shape::dims[i];
        return xt::xtensor<float, 1 + Net::input_shape::rank>(dims);
    }();
    generator gen(3);
    for (auto& v : x) v = gen.uniform<float>();
    xt::xtensor<std::int64_t, 1> labels(std::array<std::size_t, 1>{batch});
    for (std::size_t i = 0; i < batch; ++i)
        labels(i) = static_cast<std::int64_t>(i % Net::output_shape::dims[0]);
    (void)dropout_seeded;
    const auto step = [&] {
        m.forward(x);
        m.cross_entropy(labels);
        m.backward();
        opt.step();
    };
    step();  // sizes the workspace and the optimiser's state
    const std::size_t before = test::allocation_count();
    for (int i = 0; i < 3; ++i) step();
    return test::allocation_count() - before;
}

TEST_CASE("a LeNet training step with sgd allocates nothing after the first", "[graph][memory]") {
    CHECK(allocations_in_steps<test::models::lenet, optim::sgd<float>>(
              16, optim::sgd_options{.lr = 0.01, .momentum = 0.9}) == 0);
}

TEST_CASE("a residual block with batch norm trains with adam without allocating after the first step",
          "[graph][memory]") {
    CHECK(allocations_in_steps<test::models::resblock, optim::adam<float>>(4, optim::adam_options{}) == 0);
}

TEST_CASE("an MLP with dropout and batch norm trains without allocating after the first step",
          "[graph][memory]") {
    using net = graph::sequential<graph::input<20>, graph::linear<32>, graph::batch_norm1d, graph::relu,
                                  graph::dropout<1, 5>, graph::linear<5>>;
    CHECK(allocations_in_steps<net, optim::sgd<float>>(8, optim::sgd_options{.lr = 0.1}) == 0);
}

TEST_CASE("a one-sample training step of the tiny MLP allocates nothing after the first", "[graph][memory]") {
    CHECK(allocations_in_steps<test::models::tiny_mlp, optim::sgd<float>>(1, optim::sgd_options{.lr = 0.1}) ==
          0);
}

TEST_CASE("inference from the fixed arena allocates nothing", "[graph][memory]") {
    auto runner = std::make_unique<graph::inference_model<test::models::lenet, float, 2>>();
    xt::xtensor<float, 4> x(std::array<std::size_t, 4>{2, 1, 28, 28}),
        one(std::array<std::size_t, 4>{1, 1, 28, 28});
    x.fill(0.5f);
    one.fill(0.25f);
    const std::size_t before = test::allocation_count();
    const float first = runner->forward(x)(0, 0) + runner->forward(one)(0, 0);
    CHECK(test::allocation_count() - before == 0);
    CHECK(std::isfinite(first));
}

TEST_CASE("the allocation counter sees an allocation", "[graph][memory]") {
    const std::size_t before = test::allocation_count();
    auto* p = new std::vector<int>(100);
    CHECK(test::allocation_count() - before >= 2);
    delete p;
}

}  // namespace
