// mse_loss: finite differences in float64 for both inputs, PyTorch's loss and gradients on 3x17x15,
// `none` for an unneeded gradient, accumulation, and the shape error.
#include <catch2/catch.hpp>
#include <cmath>
#include <katachi/kernels/mse_loss.hpp>
#include <support/fixtures.hpp>
#include <support/gradcheck.hpp>
#include <vector>
#include <xtensor/xarray.hpp>
#include <xtensor/xmath.hpp>

namespace k = katachi::kernels;
using katachi::test::fixture;
using katachi::test::random_array;
using katachi::test::require_allclose;

namespace {
const std::vector<std::size_t> odd_shape{3, 17, 15};
}

TEST_CASE("mse_loss backward matches finite differences for x and target on a 3x17x15 input",
          "[mse_loss][gradcheck]") {
    xt::xarray<double> x = random_array(odd_shape, 1);
    xt::xarray<double> target = random_array(odd_shape, 2);
    const double dloss = 0.75;
    xt::xarray<double> dx = xt::zeros<double>(x.shape());
    xt::xarray<double> dtarget = xt::zeros<double>(x.shape());
    k::mse_loss_backward(x, target, dloss, dx, dtarget);
    const auto loss = [&] { return dloss * k::mse_loss_forward(x, target); };
    KATACHI_CHECK_GRADIENT(dx, katachi::test::numeric_gradient(loss, x));
    KATACHI_CHECK_GRADIENT(dtarget, katachi::test::numeric_gradient(loss, target));
}

TEST_CASE("mse_loss and its gradients match PyTorch on a 3x17x15 input", "[mse_loss][pytorch]") {
    const auto f = katachi::test::load_fixture_file("act.safetensors");
    const xt::xarray<float> x = fixture(f, "mse_loss.x");
    const xt::xarray<float> target = fixture(f, "mse_loss.target");
    require_allclose(xt::xarray<float>{k::mse_loss_forward(x, target)}, fixture(f, "mse_loss.loss"));
    xt::xarray<float> dx = xt::zeros<float>(x.shape());
    xt::xarray<float> dtarget = xt::zeros<float>(x.shape());
    k::mse_loss_backward(x, target, fixture(f, "mse_loss.dloss")(0), dx, dtarget);
    require_allclose(dx, fixture(f, "mse_loss.dx"));
    require_allclose(dtarget, fixture(f, "mse_loss.dtarget"));
}

TEST_CASE("mse_loss backward skips a gradient passed as none and accumulates on request", "[mse_loss]") {
    const xt::xarray<double> x = random_array(odd_shape, 3);
    const xt::xarray<double> target = random_array(odd_shape, 4);
    xt::xarray<double> both_dx = xt::zeros<double>(x.shape()), both_dt = xt::zeros<double>(x.shape());
    k::mse_loss_backward(x, target, 2.0, both_dx, both_dt);
    xt::xarray<double> only_dt = xt::zeros<double>(x.shape());
    k::mse_loss_backward(x, target, 2.0, k::none, only_dt);
    CHECK((only_dt == both_dt));
    const xt::xarray<double> before = random_array(odd_shape, 5);
    xt::xarray<double> summed = before;
    k::mse_loss_backward(x, target, 2.0, summed, k::none, k::write::accumulate);
    CHECK(xt::allclose(summed, xt::xarray<double>(before + both_dx), 1e-15, 1e-15));
    CHECK(xt::allclose(both_dx, xt::xarray<double>(-both_dt), 0, 0));
}

TEST_CASE("mse_loss of empty tensors is NaN and mismatched shapes name the op and both shapes",
          "[mse_loss][errors]") {
    const xt::xarray<float> empty = xt::zeros<float>({0, 3});
    CHECK(std::isnan(k::mse_loss_forward(empty, empty)));
    const xt::xarray<float> x = xt::zeros<float>({2, 3});
    const xt::xarray<float> target = xt::zeros<float>({3, 2});
    CHECK_THROWS_AS(k::mse_loss_forward(x, target), katachi::shape_mismatch);
    CHECK_THROWS_WITH(k::mse_loss_forward(x, target), Catch::Contains("mse_loss_forward") &&
                                                          Catch::Contains("[2, 3]") &&
                                                          Catch::Contains("[3, 2]"));
    xt::xarray<float> dx = xt::zeros<float>({2, 2});
    CHECK_THROWS_WITH(k::mse_loss_backward(x, x, 1.0f, dx, k::none), Catch::Contains("mse_loss_backward") &&
                                                                         Catch::Contains("[2, 3]") &&
                                                                         Catch::Contains("[2, 2]"));
}
