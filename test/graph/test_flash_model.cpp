// Suite `graph`: flash_model runs a network from weights read in place, baked in by katachi-embed
// and checked by embed<Net> at compile time; it gives inference_model's outputs bit for bit.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <katachi/graph/flash_model.hpp>
#include <katachi/graph/state_dict.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "flash_net.hpp"
#include "flash_net_weights.hpp"  // generated: make_flash_checkpoint, then katachi-embed

namespace {

using namespace katachi;
using net = test::models::flash_net;

constexpr auto weights = graph::embed<net>(flash_net_weights::checkpoint);

TEST_CASE("embed lays a checkpoint out in the network's order, as loading it into a model does", "[flash]") {
    graph::model<net> m;
    graph::load(m, KATACHI_FLASH_CHECKPOINT);
    REQUIRE(m.all_parameters().size() == weights.parameters.size());
    CHECK(std::memcmp(m.all_parameters().data(), weights.parameters.data(), sizeof weights.parameters) == 0);
    CHECK(std::memcmp(m.all_buffers().data(), weights.buffers.data(), sizeof weights.buffers) == 0);
    // The running statistics are the trained ones, not their initial zeros and ones.
    const auto mean = m.buffer("1.running_mean");
    CHECK(std::any_of(mean.begin(), mean.end(), [](float v) { return v != 0.0f; }));
}

TEST_CASE("a flash model reads its weights in place and matches inference_model bit for bit", "[flash]") {
    graph::flash_model<net, float, 5> flash(weights);
    CHECK(flash.parameters().data() == weights.parameters.data());
    CHECK(flash.buffers().data() == weights.buffers.data());
    // Its memory is the arena and two pointers (and the dropout generator, unused in inference).
    CHECK(sizeof(flash) <= decltype(flash)::arena_bytes + 128);
    STATIC_REQUIRE(decltype(flash)::arena_bytes == net::inference_arena_bytes<float>(5));

    graph::model<net> m;
    graph::load(m, KATACHI_FLASH_CHECKPOINT);
    auto reference = std::make_unique<graph::inference_model<net, float, 5>>();
    reference->load(m);
    xt::xtensor<float, 4> x(std::array<std::size_t, 4>{5, 2, 10, 10});
    generator gen(9);
    for (auto& v : x) v = gen.uniform<float>(-1.0f, 1.0f);
    for (std::size_t batch : {std::size_t{1}, std::size_t{5}}) {
        const auto expected = reference->forward(xt::xtensor<float, 4>(xt::view(x, xt::range(0, batch))));
        const std::span<const float> got = flash.forward(x.data(), batch);
        REQUIRE(got.size() == batch * 4);
        for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == expected.data()[i]);
    }
    const std::span<const float> whole = flash.forward(std::span<const float>(x.data(), x.size()));
    CHECK(whole.size() == 5 * 4);
}

TEST_CASE("a flash model refuses a batch it has no room for, and a partial sample", "[flash]") {
    graph::flash_model<net, float, 2> flash(weights);
    std::vector<float> x(3 * net::input_shape::size, 0.5f);
    CHECK_THROWS_WITH(flash.forward(x.data(), 3),
                      "flash_model::forward: batch 3 is outside 1..2, the model's largest batch");
    CHECK_THROWS_AS(flash.forward(x.data(), 0), shape_mismatch);
    CHECK_THROWS_WITH(flash.forward(std::span<const float>(x.data(), 201)),
                      "flash_model::forward: the input holds 201 values, not a whole number of samples of 200");
}

TEST_CASE("a budget the arena fits in compiles to true", "[flash]") {
    using model = graph::flash_model<net, float, 1>;
    STATIC_REQUIRE(graph::fits_budget<model, model::arena_bytes>());
    STATIC_REQUIRE(graph::fits_budget<graph::inference_model<net, float, 1>, 64 * 1024>());
}

}  // namespace
