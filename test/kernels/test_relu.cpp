// relu: PyTorch's values on a 3x17x15 input, and the behaviour at 0 and NaN.
// The finite-difference check is in test_activations.cpp with the other elementwise activations.
#include <catch2/catch.hpp>
#include <cmath>
#include <katachi/kernels/relu.hpp>
#include <limits>
#include <support/fixtures.hpp>
#include <xtensor/xarray.hpp>

namespace k = katachi::kernels;
using katachi::test::fixture;
using katachi::test::require_allclose;

TEST_CASE("relu forward and backward match PyTorch on a 3x17x15 input", "[relu][pytorch]") {
    const auto f = katachi::test::load_fixture_file("act.safetensors");
    const xt::xarray<float> x = fixture(f, "relu.x");
    xt::xarray<float> y = xt::zeros<float>(x.shape());
    k::relu_forward(x, y);
    require_allclose(y, fixture(f, "relu.y"));
    xt::xarray<float> dx = xt::zeros<float>(x.shape());
    k::relu_backward(y, fixture(f, "relu.dy"), dx);
    require_allclose(dx, fixture(f, "relu.dx"));
}

TEST_CASE("relu gives no gradient at 0 and keeps NaN as NaN, as PyTorch", "[relu]") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const xt::xarray<float> x = {-2.0f, 0.0f, 3.0f, nan};
    xt::xarray<float> y = xt::zeros<float>({4});
    k::relu_forward(x, y);
    CHECK(y(0) == 0.0f);
    CHECK(y(1) == 0.0f);
    CHECK(y(2) == 3.0f);
    CHECK(std::isnan(y(3)));
    const xt::xarray<float> dy = {5.0f, 6.0f, 7.0f, 8.0f};
    xt::xarray<float> dx = xt::zeros<float>({4});
    k::relu_backward(y, dy, dx);
    CHECK(dx(0) == 0.0f);
    CHECK(dx(1) == 0.0f);
    CHECK(dx(2) == 7.0f);
}
