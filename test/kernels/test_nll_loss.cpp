// nll_loss on log-probabilities: finite differences in float64 with ignored samples, PyTorch's loss
// and gradient, NaN when every sample is ignored, and the errors for bad targets and shapes.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <katachi/kernels/nll_loss.hpp>
#include <string>
#include <support/fixtures.hpp>
#include <support/gradcheck.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xmath.hpp>

namespace k = katachi::kernels;
using katachi::test::fixture;
using katachi::test::random_array;
using katachi::test::require_allclose;

TEST_CASE("nll_loss backward matches finite differences with ignored samples", "[nll_loss][gradcheck]") {
    xt::xarray<double> log_probs = random_array({17, 15}, 1, -5, 0);
    const xt::xarray<std::int64_t> target = {3, 14, 0, -100, 7, 7, 1, 2, 9, 12, -100, 5, 6, 11, 13, 4, 8};
    for (const std::int64_t ignore_index : {std::int64_t{-100}, std::int64_t{7}}) {
        INFO("ignore_index " << ignore_index);
        const xt::xarray<std::int64_t> t =
            ignore_index == 7 ? xt::xarray<std::int64_t>(xt::abs(target) % 15) : target;
        const double dloss = -1.25;
        xt::xarray<double> dlog_probs = xt::zeros<double>(log_probs.shape());
        k::nll_loss_backward(t, dloss, dlog_probs, ignore_index);
        const auto numeric = katachi::test::numeric_gradient(
            [&] { return dloss * k::nll_loss_forward(log_probs, t, ignore_index); }, log_probs);
        KATACHI_CHECK_GRADIENT(dlog_probs, numeric);
    }
}

TEST_CASE("nll_loss and its gradient match PyTorch with two ignored samples", "[nll_loss][pytorch]") {
    const auto f = katachi::test::load_fixture_file("act.safetensors");
    const xt::xarray<float> log_probs = fixture(f, "nll_loss.log_probs");
    const xt::xarray<std::int64_t> target = fixture<std::int64_t>(f, "nll_loss.target");
    REQUIRE(xt::sum(xt::equal(target, std::int64_t{-100}))() == 2);
    const float loss = k::nll_loss_forward(log_probs, target);
    require_allclose(xt::xarray<float>{loss}, fixture(f, "nll_loss.loss"));
    xt::xarray<float> dlog_probs = xt::ones<float>(log_probs.shape());
    k::nll_loss_backward(target, fixture(f, "nll_loss.dloss")(0), dlog_probs);
    require_allclose(dlog_probs, fixture(f, "nll_loss.dlog_probs"));
}

TEST_CASE("nll_loss with every sample ignored is NaN with zero gradients, as PyTorch", "[nll_loss]") {
    const xt::xarray<double> log_probs = random_array({3, 4}, 2, -3, 0);
    const xt::xarray<std::int64_t> target = {-100, -100, -100};
    CHECK(std::isnan(k::nll_loss_forward(log_probs, target)));
    xt::xarray<double> dlog_probs = xt::ones<double>({3, 4});
    k::nll_loss_backward(target, 1.0, dlog_probs);
    CHECK((dlog_probs == xt::zeros<double>({3, 4})));
}

TEST_CASE("nll_loss with write::accumulate adds to the gradient buffer", "[nll_loss]") {
    const xt::xarray<std::int64_t> target = {1, 0, 2};
    xt::xarray<double> dlog_probs = xt::ones<double>({3, 4});
    k::nll_loss_backward(target, 3.0, dlog_probs, -100, k::write::accumulate);
    CHECK(dlog_probs(0, 1) == 0.0);
    CHECK(dlog_probs(1, 0) == 0.0);
    CHECK(dlog_probs(2, 2) == 0.0);
    CHECK(dlog_probs(0, 0) == 1.0);
    CHECK(xt::sum(dlog_probs)() == 9.0);
}

TEST_CASE("nll_loss backward into none computes nothing", "[nll_loss]") {
    const xt::xarray<std::int64_t> target = {1, 0, 2};
    CHECK_NOTHROW(k::nll_loss_backward(target, 3.0, k::none));
    CHECK_NOTHROW(k::nll_loss_backward(target, 3.0, k::none, -100, k::write::accumulate));
}

TEST_CASE("nll_loss rejects bad targets naming the sample and value, and mismatched shapes",
          "[nll_loss][errors]") {
    const xt::xarray<float> log_probs = xt::zeros<float>({3, 4});
    CHECK_THROWS_AS(k::nll_loss_forward(log_probs, xt::xarray<std::int64_t>{0, 4, 1}), std::out_of_range);
    CHECK_THROWS_WITH(k::nll_loss_forward(log_probs, xt::xarray<std::int64_t>{0, 4, 1}),
                      Catch::Contains("nll_loss_forward") && Catch::Contains("target[1] = 4"));
    xt::xarray<float> dlog_probs = xt::zeros<float>({3, 4});
    CHECK_THROWS_WITH(k::nll_loss_backward(xt::xarray<std::int64_t>{0, 1, -7}, 1.0f, dlog_probs),
                      Catch::Contains("nll_loss_backward") && Catch::Contains("target[2] = -7"));
    CHECK_THROWS_AS(k::nll_loss_forward(log_probs, xt::xarray<std::int64_t>{0, 1}), katachi::shape_mismatch);
    CHECK_THROWS_WITH(
        k::nll_loss_forward(log_probs, xt::xarray<std::int64_t>{0, 1}),
        Catch::Contains("nll_loss_forward") && Catch::Contains("target has shape [2], expected [3]"));
    CHECK_THROWS_WITH(
        k::nll_loss_forward(xt::xarray<float>(xt::zeros<float>({3})), xt::xarray<std::int64_t>{0}),
        Catch::Contains("log_probs has shape [3], expected rank 2"));
}
