// tanh: PyTorch's values on inputs that include +-100 and +-30, and saturation.
// The finite-difference check is in test_activations.cpp with the other elementwise activations.
#include <catch2/catch.hpp>
#include <katachi/kernels/tanh.hpp>
#include <support/fixtures.hpp>
#include <xtensor/xarray.hpp>

namespace k = katachi::kernels;
using katachi::test::fixture;
using katachi::test::require_allclose;

TEST_CASE("tanh forward and backward match PyTorch on inputs up to +-100", "[tanh][pytorch]") {
    const auto f = katachi::test::load_fixture_file("act.safetensors");
    const xt::xarray<float> x = fixture(f, "tanh.x");
    xt::xarray<float> y = xt::zeros<float>(x.shape());
    k::tanh_forward(x, y);
    require_allclose(y, fixture(f, "tanh.y"));
    xt::xarray<float> dx = xt::zeros<float>(x.shape());
    k::tanh_backward(y, fixture(f, "tanh.dy"), dx);
    require_allclose(dx, fixture(f, "tanh.dx"));
}

TEST_CASE("tanh saturates at +-1 with zero gradient for large |x|", "[tanh]") {
    const xt::xarray<float> x = {-100.0f, 100.0f};
    xt::xarray<float> y = xt::zeros<float>({2});
    k::tanh_forward(x, y);
    CHECK(y(0) == -1.0f);
    CHECK(y(1) == 1.0f);
    xt::xarray<float> dx = xt::ones<float>({2});
    k::tanh_backward(y, xt::xarray<float>{3.0f, 3.0f}, dx);
    CHECK(dx(0) == 0.0f);
    CHECK(dx(1) == 0.0f);
}
