// Optimisers against torch.optim: three steps on fixed gradient sequences, and the behaviours a
// user relies on (skipped parameters, late storage, param groups added later).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <katachi/kernels/simd.hpp>
#include <katachi/optim/adam.hpp>
#include <katachi/optim/sgd.hpp>
#include <limits>
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

TEST_CASE("adam's AVX-512 loop gives the portable loop's bits, with every variant and a ragged end",
          "[optim]") {
    if (!katachi::kernels::detail::avx512_available()) {
        WARN("this processor has no AVX-512F: adam runs its portable loop only");
        return;
    }
    // 16 * 4 + 5 elements: four vectors and a tail; gradients and states of mixed sign and size,
    // a NaN and an infinity among them.
    const std::size_t n = 69;
    std::vector<float> p0(n), g(n), m0(n), v0(n), vmax0(n);
    for (std::size_t i = 0; i < n; ++i) {
        const float t = static_cast<float>(i);
        p0[i] = std::sin(t) * 3.f;
        g[i] = std::cos(1.7f * t) * (i % 7 == 0 ? 1e-6f : 0.5f);
        m0[i] = 0.01f * std::sin(0.3f * t);
        v0[i] = 1e-4f * (1 + std::cos(0.9f * t));
        vmax0[i] = 1e-4f * (1 + std::sin(0.4f * t));
    }
    g[10] = std::numeric_limits<float>::quiet_NaN();
    g[33] = std::numeric_limits<float>::infinity();
    const auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
        return std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
    };
    for (bool amsgrad : {false, true})
        for (float weight_decay : {0.f, 0.05f}) {
            INFO("amsgrad " << amsgrad << ", weight decay " << weight_decay);
            const auto run = [&](auto rule, bool vector) {
                rule.vector = vector;
                std::vector<float> p = p0, m = m0, v = v0, vmax = vmax0;
                rule.apply(p.data(), g.data(), m.data(), v.data(), amsgrad ? vmax.data() : nullptr, n);
                return std::vector<std::vector<float>>{p, m, v, vmax};
            };
            const katachi::optim::detail::adam_rule<float, false> coupled{
                0.01f / 0.1f, std::sqrt(0.002f), 0.9f, 0.999f, 1e-8f, 0.1f, 0.001f, weight_decay, 1.f};
            const katachi::optim::detail::adam_rule<float, true> decoupled{
                0.01f / 0.1f, std::sqrt(0.002f),       0.9f, 0.999f, 1e-8f, 0.1f, 0.001f,
                weight_decay, 1 - 0.01f * weight_decay};
            const auto a = run(coupled, true), b = run(coupled, false);
            const auto c = run(decoupled, true), d = run(decoupled, false);
            for (std::size_t k = 0; k < 4; ++k) {
                CHECK(same_bits(a[k], b[k]));
                CHECK(same_bits(c[k], d[k]));
            }
            CHECK_FALSE(same_bits(a[0], p0));  // the step moved the parameters
        }
}

TEST_CASE("sgd steps many tensors in one parallel loop as it steps each alone, bit for bit", "[optim]") {
    // Sizes that put part boundaries inside tensors at two threads (30,011 elements in all).
    const std::vector<std::size_t> sizes{7, 12'000, 1, 3, 9'000, 5, 8'995};
    std::vector<std::vector<float>> together, alone, grads;
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        std::vector<float> v(sizes[t]), g(sizes[t]);
        for (std::size_t i = 0; i < sizes[t]; ++i) {
            v[i] = std::sin(0.1f * float(i + t));
            g[i] = std::cos(0.3f * float(i) + float(t));
        }
        together.push_back(v);
        alone.push_back(v);
        grads.push_back(g);
    }
    const optim::sgd_options o{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true};
    std::vector<optim::parameter<float>> all;
    for (std::size_t t = 0; t < sizes.size(); ++t)
        all.push_back(optim::parameter<float>::fixed("p" + std::to_string(t), together[t], grads[t]));
    optim::sgd<float> one(all, o);
    std::vector<optim::sgd<float>> each;
    for (std::size_t t = 0; t < sizes.size(); ++t)
        each.emplace_back(std::vector{optim::parameter<float>::fixed("p", alone[t], grads[t])}, o);
    for (int step = 0; step < 3; ++step) {
        one.step();
        for (auto& opt : each) opt.step();
    }
    for (std::size_t t = 0; t < sizes.size(); ++t) CHECK(together[t] == alone[t]);
}

TEST_CASE("an sgd step that finds a gradient of the wrong size updates nothing", "[optim]") {
    std::vector<float> a{1, 2}, ga{1, 1}, b{3, 4}, gb{1};
    optim::sgd<float> opt(
        {optim::parameter<float>::fixed("a", a, ga), optim::parameter<float>::fixed("b", b, gb)}, {.lr = 1});
    CHECK_THROWS_WITH(opt.step(), Catch::Contains("b"));
    CHECK(a == std::vector<float>{1, 2});
    CHECK(b == std::vector<float>{3, 4});
}
