// Optimisers against torch.optim: three steps on fixed gradient sequences, and the behaviours a
// user relies on (skipped parameters, late storage, param groups added later).
#include <algorithm>
#include <catch2/catch.hpp>
#include <katachi/optim/adam.hpp>
#include <katachi/optim/sgd.hpp>
#include <string>
#include <support/fixtures.hpp>
#include <vector>

using namespace katachi;
using katachi::test::fixture;

namespace {

const io::safetensors_file& data() {
    static const io::safetensors_file f = test::load_fixture_file("optim.safetensors");
    return f;
}

struct two_params {
    xt::xarray<float> w = fixture(data(), "w0"), b = fixture(data(), "b0");
    xt::xarray<float> gw = xt::zeros_like(w), gb = xt::zeros_like(b);
    std::vector<optim::parameter<float>> params() {
        return {optim::parameter<float>::fixed("weight", {w.data(), w.size()}, {gw.data(), gw.size()}),
                optim::parameter<float>::fixed("bias", {b.data(), b.size()}, {gb.data(), gb.size()})};
    }
};

template <class Optimiser, class Options>
void check_three_steps(const std::string& name, Options options) {
    two_params p;
    Optimiser opt(p.params(), options);
    for (int i = 0; i < 3; ++i) {
        INFO(name << " step " << i);
        // Copy into the gradient storage the optimiser holds spans of.
        const auto gw = fixture(data(), "grad" + std::to_string(i) + ".w");
        const auto gb = fixture(data(), "grad" + std::to_string(i) + ".b");
        std::copy(gw.begin(), gw.end(), p.gw.begin());
        std::copy(gb.begin(), gb.end(), p.gb.begin());
        opt.step();
        test::require_allclose(p.w, fixture(data(), name + ".step" + std::to_string(i) + ".w"));
        test::require_allclose(p.b, fixture(data(), name + ".step" + std::to_string(i) + ".b"));
    }
}

}  // namespace

TEST_CASE("three sgd steps match torch.optim.SGD with momentum, nesterov, dampening and weight decay",
          "[optim]") {
    check_three_steps<optim::sgd<float>>("sgd_plain", optim::sgd_options{.lr = 0.1});
    check_three_steps<optim::sgd<float>>("sgd_momentum", optim::sgd_options{.lr = 0.05, .momentum = 0.9});
    check_three_steps<optim::sgd<float>>(
        "sgd_nesterov_wd",
        optim::sgd_options{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
    check_three_steps<optim::sgd<float>>(
        "sgd_dampening",
        optim::sgd_options{.lr = 0.05, .momentum = 0.8, .dampening = 0.3, .weight_decay = 0.02});
}

TEST_CASE("three adam and adamw steps match torch.optim.Adam and AdamW", "[optim]") {
    check_three_steps<optim::adam<float>>("adam", optim::adam_options{.lr = 0.01});
    check_three_steps<optim::adam<float>>(
        "adam_wd_amsgrad",
        optim::adam_options{
            .lr = 0.02, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6, .weight_decay = 0.1, .amsgrad = true});
    optim::adamw_options o;
    o.lr = 0.01;
    o.weight_decay = 0.05;
    check_three_steps<optim::adamw<float>>("adamw", o);
}

TEST_CASE("a parameter without a gradient is skipped and keeps no state", "[optim]") {
    std::vector<float> w{1, 2}, g{0.5f, 0.5f};
    optim::sgd<float> opt(
        {optim::parameter<float>::fixed("frozen", w, {}), optim::parameter<float>::fixed("live", g, g)},
        {.lr = 1, .momentum = 0.9});
    opt.step();
    CHECK(w == std::vector<float>{1, 2});
    CHECK(opt.momentum_buffer(0).empty());
    CHECK(opt.momentum_buffer(1).size() == 2);
}

TEST_CASE("a parameter whose storage appears after the optimiser is built is stepped", "[optim]") {
    std::vector<float> value, grad;  // empty until "materialised"
    optim::parameter<float> p{"lazy.weight", [&] { return std::span<float>(value); },
                              [&] { return std::span<float>(grad); }};
    optim::adam<float> opt({p}, {.lr = 0.1});
    opt.step();  // nothing to do yet
    value = {1, -1, 2};
    grad = {1, 1, -1};
    opt.step();
    CHECK(value[0] ==
          Approx(0.9f));  // the first Adam step moves each element by lr against the gradient sign
    CHECK(value[1] == Approx(-1.1f));
    CHECK(value[2] == Approx(2.1f));
}

TEST_CASE("add_param_group keeps the momentum of the existing parameters", "[optim]") {
    std::vector<float> a{0}, ga{1}, b{0}, gb{1};
    optim::sgd<float> opt({optim::parameter<float>::fixed("a", a, ga)}, {.lr = 1, .momentum = 0.5});
    opt.step();  // buf_a = 1, a = -1
    opt.add_param_group({optim::parameter<float>::fixed("b", b, gb)});
    opt.step();  // buf_a = 1.5, a = -2.5; buf_b = 1, b = -1
    CHECK(a[0] == -2.5f);
    CHECK(b[0] == -1.0f);
    CHECK(opt.param_groups().size() == 2);
}

TEST_CASE("zero_grad zeroes every gradient and bad options are refused", "[optim]") {
    std::vector<float> w{1}, g{3};
    optim::sgd<float> opt({optim::parameter<float>::fixed("w", w, g)});
    opt.zero_grad();
    CHECK(g[0] == 0);
    CHECK_THROWS_WITH(optim::sgd<float>({}, {.lr = -1}), Catch::Contains("invalid learning rate"));
    CHECK_THROWS_WITH(optim::sgd<float>({}, {.lr = 0.1, .nesterov = true}), Catch::Contains("nesterov"));
    CHECK_THROWS_WITH(optim::adam<float>({}, {.beta1 = 1.0}), Catch::Contains("betas"));
    std::vector<float> short_grad{1};
    std::vector<float> two{1, 2};
    optim::sgd<float> mismatched({optim::parameter<float>::fixed("w", two, short_grad)});
    CHECK_THROWS_WITH(mismatched.step(), Catch::Contains("'w' has 2 elements but its gradient has 1"));
}
