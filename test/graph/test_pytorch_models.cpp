// Suite `graph`: whole models against PyTorch 1.13 (test/data/models.safetensors, made by the lead's
// fixtures_models.py): logits, loss, every parameter gradient and the input gradient, running
// statistics after a training forward, an SGD step and an evaluation pass.
#include <catch2/catch.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include <katachi/graph/state_dict.hpp>
#include <katachi/optim/sgd.hpp>
#include "graph/models.hpp"
#include "graph/pytorch.hpp"

namespace {

using namespace katachi;
using test::fixture;
using test::models_fixture;
using test::require_allclose;

template <class Net>
void check_model(const std::string& name, bool mse = false) {
    graph::model<Net> m;
    const auto result = graph::load_state_dict(m, test::fixture_state(name + ".param."));
    REQUIRE(result.missing_keys.empty());
    const auto x = fixture<float>(models_fixture(), name + ".input");
    auto logits = m.forward(x);
    require_allclose(logits, fixture<float>(models_fixture(), name + ".logits"), 1e-4, 1e-5);
    float loss;
    if (mse) {
        loss = m.mse(fixture<float>(models_fixture(), name + ".target"));
    } else {
        const auto t = fixture<std::int64_t>(models_fixture(), name + ".target");
        loss = m.cross_entropy(t);
    }
    CHECK(loss == Approx(fixture<float>(models_fixture(), name + ".loss")()).epsilon(1e-5));
    m.backward(kernels::write::overwrite, true);
    test::require_gradients_match(m, name + ".grad.");
    require_allclose(m.input_grad(), fixture<float>(models_fixture(), name + ".input_grad"), 1e-4, 1e-7);
}

TEST_CASE("the LeNet's logits, loss and every gradient match PyTorch", "[graph][pytorch]") {
    check_model<test::models::lenet>("lenet");
}

TEST_CASE("a strided convolution on 17x15 with tanh, avg pool, linear and sigmoid matches PyTorch under MSE",
          "[graph][pytorch]") {
    check_model<test::models::strided>("strided", true);
}

TEST_CASE("a residual block with batch norm matches PyTorch, running statistics included",
          "[graph][pytorch]") {
    check_model<test::models::resblock>("resblock");
    graph::model<test::models::resblock> m;
    graph::load_state_dict(m, test::fixture_state("resblock.param."));
    m.forward(fixture<float>(models_fixture(), "resblock.input"));
    for (const char* bn : {"bn1", "bn2"}) {
        for (const char* stat : {"running_mean", "running_var"}) {
            const std::string key = std::string(bn) + "." + stat;
            INFO(key);
            const auto expected = fixture<float>(models_fixture(), "resblock.after." + key);
            const auto got = m.buffer(key);
            require_allclose(xt::adapt(got.data(), got.size(), xt::no_ownership(), expected.shape()),
                             expected, 1e-5, 1e-6);
        }
        CHECK(m.batches_tracked(bn) ==
              fixture<std::int64_t>(models_fixture(),
                                    std::string("resblock.after.") + bn + ".num_batches_tracked")());
    }
}

TEST_CASE("layer norm, batch norm and pooling options match PyTorch in training and evaluation",
          "[graph][pytorch]") {
    // test/data/fixtures_vocabulary.py: eps, momentum None, affine and running statistics switched
    // off, ceil_mode, count_include_pad.
    static const io::safetensors_file file = test::load_fixture_file("vocabulary.safetensors");
    const auto state = [&](const std::string& prefix) {
        io::tensor_map out;
        for (const auto& [key, t] : file.tensors)
            if (key.starts_with(prefix)) out[key.substr(prefix.size())] = t;
        return out;
    };
    graph::model<test::models::norms> m;
    const auto result = graph::load_state_dict(m, state("norms.param."));
    REQUIRE(result.missing_keys.empty());
    REQUIRE(result.unexpected_keys.empty());
    const auto x = fixture<float>(file, "norms.input");
    const auto t = fixture<std::int64_t>(file, "norms.target");
    const auto check_pass = [&](const std::string& key) {
        require_allclose(m.forward(x), fixture<float>(file, "norms." + key + "logits"), 1e-4, 1e-5);
        CHECK(m.cross_entropy(t) == Approx(fixture<float>(file, "norms." + key + "loss")()).epsilon(1e-5));
        m.backward(kernels::write::overwrite, true);
        for (const auto& p : m.parameters()) {
            INFO("gradient of " << p.name);
            const auto expected = fixture<float>(file, "norms." + key + "grad." + p.name);
            const auto grad = p.grad();
            REQUIRE(grad.size() == expected.size());
            require_allclose(xt::xarray<float>(xt::adapt(grad.data(), grad.size(), xt::no_ownership(), expected.shape())),
                             expected, 1e-4, 1e-6);
        }
        require_allclose(m.input_grad(), fixture<float>(file, "norms." + key + "input_grad"), 1e-4, 1e-7);
    };
    m.train();
    check_pass("");
    m.forward(fixture<float>(file, "norms.input2"));
    for (const auto& [key, expected_t] : state("norms.after.")) {
        INFO(key);
        if (key.ends_with("num_batches_tracked")) {
            CHECK(m.batches_tracked(key.substr(0, key.size() - std::string(".num_batches_tracked").size())) ==
                  fixture<std::int64_t>(file, "norms.after." + key)());
        } else if (key.find("running") != std::string::npos) {
            const auto expected = fixture<float>(file, "norms.after." + key);
            const auto got = m.buffer(key);
            require_allclose(xt::xarray<float>(xt::adapt(got.data(), got.size(), xt::no_ownership(), expected.shape())),
                             expected, 1e-5, 1e-6);
        }
    }
    m.eval();
    check_pass("eval.");
}

TEST_CASE("an MLP with BatchNorm1d matches PyTorch in training, after an SGD step, and in evaluation",
          "[graph][pytorch]") {
    using net = test::models::mlp_bn;
    check_model<net>("mlp_bn");

    graph::model<net> m;
    graph::load_state_dict(m, test::fixture_state("mlp_bn.param."));
    const auto x = fixture<float>(models_fixture(), "mlp_bn.input");
    const auto t = fixture<std::int64_t>(models_fixture(), "mlp_bn.target");
    m.forward(x);
    m.cross_entropy(t);
    m.backward();
    for (const char* stat : {"1.running_mean", "1.running_var"}) {
        const auto expected = fixture<float>(models_fixture(), std::string("mlp_bn.after.") + stat);
        const auto got = m.buffer(stat);
        require_allclose(xt::adapt(got.data(), got.size(), xt::no_ownership(), expected.shape()), expected,
                         1e-5, 1e-6);
    }
    CHECK(m.batches_tracked("1") == 1);

    optim::sgd<float> opt(m.parameters(), {.lr = 0.1, .momentum = 0.9});
    opt.step();
    for (const auto& p : m.parameters()) {
        INFO(p.name);
        const auto expected = fixture<float>(models_fixture(), "mlp_bn.step." + p.name);
        const auto v = p.value();
        require_allclose(xt::adapt(v.data(), v.size(), xt::no_ownership(), expected.shape()), expected, 1e-5,
                         1e-6);
    }

    m.eval();
    auto logits = m.forward(x);
    require_allclose(logits, fixture<float>(models_fixture(), "mlp_bn.eval.logits"), 1e-4, 1e-5);
    CHECK(m.cross_entropy(t) == Approx(fixture<float>(models_fixture(), "mlp_bn.eval.loss")()).epsilon(1e-5));
    m.backward(kernels::write::overwrite, true);
    test::require_gradients_match(m, "mlp_bn.eval.grad.");
    require_allclose(m.input_grad(), fixture<float>(models_fixture(), "mlp_bn.eval.input_grad"), 1e-4, 1e-7);
}

}  // namespace
