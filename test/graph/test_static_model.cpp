// Suite `graph`: a static model (graph::static_model, memory inside the object) trains exactly as
// the heap model does, refuses a batch above its MaxBatch, and never touches the heap.
#include <catch2/catch.hpp>
#include <cstring>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <memory>
#include <xtensor/xtensor.hpp>

#include "graph/models.hpp"
#include "support/allocation_counter.hpp"

namespace {

using namespace katachi;
using net = test::models::mlp_bn;

// Plain SGD over every parameter, as optim::sgd computes it, without its parameter list.
template <class Model>
void sgd_step(Model& m, float lr) {
    const optim::detail::sgd_rule<float> rule{lr, 0.0f, 0.0f, 1.0f, false, true};
    rule.apply(m.all_parameters().data(), m.all_gradients().data(), nullptr, m.all_parameters().size());
}

template <class Model>
float train(Model& m, const xt::xtensor<float, 2>& x, const xt::xtensor<std::int64_t, 1>& y, int steps) {
    float loss = 0;
    for (int i = 0; i < steps; ++i) {
        m.forward(x);
        loss = m.cross_entropy(y);
        m.backward();
        sgd_step(m, 0.1f);
    }
    return loss;
}

TEST_CASE("a static model trains bit for bit as the heap model does", "[static]") {
    xt::xtensor<float, 2> x(std::array<std::size_t, 2>{6, 20});
    generator gen(2);
    for (auto& v : x) v = gen.uniform<float>(-1.0f, 1.0f);
    const xt::xtensor<std::int64_t, 1> y = {0, 1, 2, 3, 4, 0};
    graph::model<net> heap(7);
    auto fixed = std::make_unique<graph::static_model<net, float, 8>>(7);
    const float heap_loss = train(heap, x, y, 5);
    const float fixed_loss = train(*fixed, x, y, 5);
    CHECK(heap_loss == fixed_loss);
    REQUIRE(heap.all_parameters().size() == fixed->all_parameters().size());
    CHECK(std::memcmp(heap.all_parameters().data(), fixed->all_parameters().data(),
                      heap.all_parameters().size() * sizeof(float)) == 0);
    CHECK(std::memcmp(heap.all_buffers().data(), fixed->all_buffers().data(),
                      heap.all_buffers().size() * sizeof(float)) == 0);
}

TEST_CASE("a static model allocates nothing, from its construction on", "[static]") {
    xt::xtensor<float, 2> x(std::array<std::size_t, 2>{8, 20});
    x.fill(0.25f);
    const xt::xtensor<std::int64_t, 1> y = {0, 1, 2, 3, 4, 0, 1, 2};
    using model = graph::static_model<net, float, 8>;
    alignas(model) static std::byte place[sizeof(model)];
    (void)get_num_threads();  // the thread pool allocates when it starts, which is not the model's doing
    const std::size_t before = test::allocation_count();
    auto* m = new (place) model(3);
    train(*m, x, y, 2);
    CHECK(test::allocation_count() - before == 0);
    m->~model();
}

TEST_CASE("a static model refuses a batch above its largest", "[static]") {
    auto m = std::make_unique<graph::static_model<net, float, 4>>();
    xt::xtensor<float, 2> x(std::array<std::size_t, 2>{5, 20});
    x.fill(0.0f);
    CHECK_THROWS_WITH(m->forward(x), "model::forward: batch 5 is larger than the static model's 4");
}

}  // namespace
