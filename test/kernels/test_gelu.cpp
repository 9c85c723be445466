// gelu: PyTorch's values for the exact (erf) and the tanh forms, and the limits of large |x|.
// The finite-difference checks of both forms are in test_activations.cpp.
#include <catch2/catch.hpp>
#include <cmath>
#include <katachi/kernels/gelu.hpp>
#include <string>
#include <support/fixtures.hpp>
#include <xtensor/xarray.hpp>

namespace k = katachi::kernels;
using katachi::test::fixture;
using katachi::test::require_allclose;

TEST_CASE("gelu forward and backward match PyTorch with approximate none and tanh", "[gelu][pytorch]") {
    const auto f = katachi::test::load_fixture_file("act.safetensors");
    for (const auto& [key, mode] :
         {std::pair<std::string, k::gelu_approximate>{"gelu", k::gelu_approximate::none},
          {"gelu_tanh", k::gelu_approximate::tanh}}) {
        INFO(key);
        const xt::xarray<float> x = fixture(f, key + ".x");
        xt::xarray<float> y = xt::zeros<float>(x.shape());
        k::gelu_forward(x, y, mode);
        require_allclose(y, fixture(f, key + ".y"));
        xt::xarray<float> dx = xt::zeros<float>(x.shape());
        k::gelu_backward(x, fixture(f, key + ".dy"), dx, mode);
        require_allclose(dx, fixture(f, key + ".dx"));
    }
}

TEST_CASE("gelu is x for large positive x and vanishes for large negative x in both forms", "[gelu]") {
    for (const auto mode : {k::gelu_approximate::none, k::gelu_approximate::tanh}) {
        const xt::xarray<double> x = {12.0, -12.0, 0.0};
        xt::xarray<double> y = xt::zeros<double>({3});
        k::gelu_forward(x, y, mode);
        CHECK(y(0) == 12.0);
        CHECK(std::abs(y(1)) < 1e-30);
        CHECK(y(2) == 0.0);
        xt::xarray<double> dx = xt::zeros<double>({3});
        k::gelu_backward(x, xt::xarray<double>{1.0, 1.0, 1.0}, dx, mode);
        CHECK(dx(0) == 1.0);
        CHECK(std::abs(dx(1)) < 1e-30);
        CHECK(dx(2) == 0.5);
    }
}
