// The seed scenarios that involve whole models: a frozen feature extractor, Monte Carlo
// dropout, and a model grown block by block during training.
#include <catch2/catch.hpp>
#include <cmath>
#include <katachi/eager.hpp>
#include <katachi/optim/sgd.hpp>

using namespace katachi;
namespace nn = katachi::eager::nn;
using eager::sizes;
using eager::tensor;

namespace {

// One block of a growing model: it knows its neighbours and hands its output to the next one.
struct block : nn::module {
    std::shared_ptr<nn::linear> fc;
    std::shared_ptr<block> next;  // registered as the child "next": owned, counted once
    std::weak_ptr<block> prev;    // not registered: a back link that neither owns nor counts
    explicit block(std::size_t width) {
        fc = register_module("fc", std::make_shared<nn::linear>(nn::linear_options{width, width}));
        nn::init::zeros_(fc->weight);  // a new block starts as the identity (x + tanh(0) = x)
        nn::init::zeros_(fc->bias);
    }
    std::string type_name() const override { return "block"; }
    tensor forward(const tensor& x) override {
        const tensor y = x + eager::tanh((*fc)(x));
        return next ? next->forward(y) : y;
    }
};

// A doubly linked list of blocks; forward recurses from the first block.
struct growing_model : nn::module {
    std::shared_ptr<block> first, last;
    std::size_t length = 0;
    std::shared_ptr<block> append(std::size_t width) {
        auto b = std::make_shared<block>(width);
        if (!first) {
            first = register_module("first", b);
        } else {
            last->next = last->register_module("next", b);
            b->prev = last;
        }
        last = b;
        ++length;
        return b;
    }
    std::string type_name() const override { return "growing_model"; }
    tensor forward(const tensor& x) override { return first->forward(x); }
};

}  // namespace

TEST_CASE("a frozen network changes only its classifier's parameters in a step", "[eager][seed]") {
    eager::manual_seed(3);
    auto features =
        std::make_shared<nn::sequential>(nn::linear({6, 8}), nn::relu(), nn::linear({8, 8}), nn::relu());
    auto classifier = std::make_shared<nn::linear>(nn::linear_options{8, 3});
    nn::sequential model(features, classifier);
    features->requires_grad_(false);
    std::vector<std::vector<float>> before;
    for (const auto& p : model.parameters()) before.push_back(p.to_vector());
    optim::sgd<float> opt(nn::optimiser_parameters(model), {.lr = 0.5, .momentum = 0.9});
    opt.zero_grad();
    const tensor loss =
        eager::cross_entropy(model(eager::rand({5, 6})), std::vector<std::int64_t>{0, 1, 2, 1, 0});
    loss.backward();
    opt.step();
    const auto params = model.named_parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
        INFO(params[i].first);
        const bool in_classifier = params[i].first.rfind("1.", 0) == 0;
        CHECK((params[i].second.to_vector() != before[i]) == in_classifier);
        CHECK(params[i].second.grad().defined() == in_classifier);
    }
}

TEST_CASE("Monte Carlo dropout: functional dropout varies in eval mode, the module does not",
          "[eager][seed]") {
    eager::manual_seed(11);
    nn::sequential model(nn::linear({4, 16}), nn::relu(), nn::dropout(0.5), nn::linear({16, 2}));
    model.eval();
    const tensor x = eager::rand({1, 4});
    // the dropout module follows eval(): identical outputs
    CHECK(model(x).to_vector() == model(x).to_vector());
    // functional dropout with training on, in an otherwise evaluating model: outputs vary
    auto& first = model.at<nn::linear>(0);
    auto& last = model.at<nn::linear>(3);
    const auto mc = [&] { return last(eager::dropout(eager::relu(first(x)), 0.5, true)).to_vector(); };
    std::vector<std::vector<float>> samples;
    for (int i = 0; i < 8; ++i) samples.push_back(mc());
    std::size_t distinct = 0;
    for (std::size_t i = 1; i < samples.size(); ++i) distinct += samples[i] != samples[0];
    CHECK(distinct >= 6);
}

TEST_CASE("a growing linked-list model trains after each appended block", "[eager][seed]") {
    eager::manual_seed(5);
    const std::size_t width = 4;
    const tensor x = eager::rand({16, width}, -1.0f, 1.0f);
    const tensor target = eager::tanh(x * 2.0f) * 0.5f;  // a map the blocks can learn
    growing_model model;
    model.append(width);
    optim::sgd<float> opt(nn::optimiser_parameters(model), {.lr = 0.2, .momentum = 0.5});
    const auto train = [&](int steps) {
        float first_loss = 0, last_loss = 0;
        for (int s = 0; s < steps; ++s) {
            opt.zero_grad();
            const tensor loss = eager::mse_loss(model(x), target);
            loss.backward();
            opt.step();
            (s == 0 ? first_loss : last_loss) = loss.item();
        }
        return std::pair{first_loss, last_loss};
    };
    for (std::size_t stage = 1; stage <= 3; ++stage) {
        INFO("blocks: " << model.length);
        const auto [start, end] = train(40);
        CHECK(end < start);
        if (stage == 1) CHECK(end < 0.5f * start);
        // the newest block has learnt: its zero-initialised weight moved
        float moved = 0;
        for (float w : model.last->fc->weight.to_vector()) moved += std::abs(w);
        CHECK(moved > 1e-3f);
        // every block counted once, along the chain: first.fc, first.next.fc, ...
        CHECK(*nn::parameter_count(model) == model.length * (width * width + width));
        CHECK(model.named_parameters().size() == 2 * model.length);
        if (stage == 3) break;
        const std::vector<float> momentum = opt.momentum_buffer(0);
        const auto previous = model.last;
        auto b = model.append(width);
        CHECK(b->prev.lock() == previous);
        CHECK(previous->next == b);
        opt.add_param_group(nn::optimiser_parameters(*b));
        CHECK(opt.momentum_buffer(0) == momentum);  // the old state survives the new group
        CHECK(opt.momentum_buffer(2 * model.length - 2).empty());
    }
    CHECK(model.named_parameters()[4].first == "first.next.next.fc.weight");
    CHECK(model.last->prev.lock()->prev.lock() == model.first);
}
