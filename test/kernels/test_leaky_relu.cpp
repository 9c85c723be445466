// leaky_relu: PyTorch's values for the default slope and for 0.2, and the derivative at 0.
// The finite-difference check is in test_activations.cpp with the other elementwise activations.
#include <catch2/catch.hpp>
#include <katachi/kernels/leaky_relu.hpp>
#include <string>
#include <support/fixtures.hpp>
#include <xtensor/xarray.hpp>

namespace k = katachi::kernels;
using katachi::test::fixture;
using katachi::test::require_allclose;

TEST_CASE("leaky_relu forward and backward match PyTorch with slopes 0.01 and 0.2", "[leaky_relu][pytorch]") {
    const auto f = katachi::test::load_fixture_file("act.safetensors");
    for (const auto& [key, slope] :
         {std::pair<std::string, double>{"leaky_relu", 0.01}, {"leaky_relu_0.2", 0.2}}) {
        INFO(key);
        const xt::xarray<float> x = fixture(f, key + ".x");
        xt::xarray<float> y = xt::zeros<float>(x.shape());
        if (slope == 0.01)
            k::leaky_relu_forward(x, y);
        else
            k::leaky_relu_forward(x, y, slope);
        require_allclose(y, fixture(f, key + ".y"));
        xt::xarray<float> dx = xt::zeros<float>(x.shape());
        k::leaky_relu_backward(x, fixture(f, key + ".dy"), dx, slope);
        require_allclose(dx, fixture(f, key + ".dx"));
    }
}

TEST_CASE("leaky_relu's derivative at 0 is the negative slope, as PyTorch", "[leaky_relu]") {
    const xt::xarray<double> x = {0.0, -1.0, 1.0};
    const xt::xarray<double> dy = {2.0, 2.0, 2.0};
    xt::xarray<double> dx = xt::zeros<double>({3});
    k::leaky_relu_backward(x, dy, dx, 0.25);
    CHECK(dx(0) == 0.5);
    CHECK(dx(1) == 0.5);
    CHECK(dx(2) == 2.0);
}
