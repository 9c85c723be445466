// sigmoid: PyTorch's values on inputs that include +-100 and +-30, and the stable tails.
// The finite-difference check is in test_activations.cpp with the other elementwise activations.
#include <catch2/catch.hpp>
#include <cmath>
#include <katachi/kernels/sigmoid.hpp>
#include <support/fixtures.hpp>
#include <xtensor/xarray.hpp>

namespace k = katachi::kernels;
using katachi::test::fixture;
using katachi::test::require_allclose;

TEST_CASE("sigmoid forward and backward match PyTorch on inputs up to +-100", "[sigmoid][pytorch]") {
    const auto f = katachi::test::load_fixture_file("act.safetensors");
    const xt::xarray<float> x = fixture(f, "sigmoid.x");
    REQUIRE(xt::amax(xt::abs(x))() == 100.0f);
    xt::xarray<float> y = xt::zeros<float>(x.shape());
    k::sigmoid_forward(x, y);
    require_allclose(y, fixture(f, "sigmoid.y"));
    xt::xarray<float> dx = xt::zeros<float>(x.shape());
    k::sigmoid_backward(y, fixture(f, "sigmoid.dy"), dx);
    require_allclose(dx, fixture(f, "sigmoid.dx"));
}

TEST_CASE("sigmoid keeps its small tail for large negative x and never gives NaN", "[sigmoid]") {
    const xt::xarray<double> x = {-100.0, 100.0, -1000.0, 1000.0};
    xt::xarray<double> y = xt::zeros<double>({4});
    k::sigmoid_forward(x, y);
    CHECK(y(0) == Approx(std::exp(-100.0)).epsilon(1e-12));
    CHECK(y(1) == 1.0);
    CHECK(y(2) == 0.0);
    CHECK(y(3) == 1.0);

    const xt::xarray<float> xf = {-100.0f, 100.0f, -1000.0f};
    xt::xarray<float> yf = xt::zeros<float>({3});
    k::sigmoid_forward(xf, yf);
    CHECK(yf(0) > 0.0f);
    CHECK(yf(1) == 1.0f);
    CHECK(yf(2) == 0.0f);
}
