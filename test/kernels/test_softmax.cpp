// softmax along dims 0, 1 and -1 of a rank-3 tensor: finite differences in float64, PyTorch's values
// with logits of +-100, in-place use and the errors for a bad dim or mismatched shapes.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <katachi/kernels/softmax.hpp>
#include <string>
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

xt::xarray<double> softmax_of(const xt::xarray<double>& x, std::ptrdiff_t dim) {
    xt::xarray<double> y = xt::zeros<double>(x.shape());
    k::softmax_forward(x, y, dim);
    return y;
}

}  // namespace

TEST_CASE("softmax backward matches finite differences along dims 0, 1 and -1 of a 3x17x15 tensor",
          "[softmax][gradcheck]") {
    for (const std::ptrdiff_t dim : {0, 1, -1}) {
        INFO("dim " << dim);
        xt::xarray<double> x = random_array(odd_shape, 100 + static_cast<std::uint32_t>(dim + 1), -3, 3);
        const xt::xarray<double> r = random_array(odd_shape, 200);
        const xt::xarray<double> y = softmax_of(x, dim);
        xt::xarray<double> dx = xt::zeros<double>(x.shape());
        k::softmax_backward(y, r, dx, dim);
        const auto numeric = katachi::test::numeric_gradient(
            [&] { return katachi::test::weighted_sum(softmax_of(x, dim), r); }, x);
        KATACHI_CHECK_GRADIENT(dx, numeric);
    }
}

TEST_CASE(
    "softmax forward and backward match PyTorch along every dim of a 3x17x15 tensor with logits of +-100",
    "[softmax][pytorch]") {
    const auto f = katachi::test::load_fixture_file("act.safetensors");
    for (const std::ptrdiff_t dim : {0, 1, 2}) {
        const std::string key = "softmax_dim" + std::to_string(dim);
        INFO(key);
        const xt::xarray<float> x = fixture(f, key + ".x");
        REQUIRE(xt::amax(xt::abs(x))() == 100.0f);
        xt::xarray<float> y = xt::zeros<float>(x.shape());
        k::softmax_forward(x, y, dim);
        require_allclose(y, fixture(f, key + ".y"));
        xt::xarray<float> dx = xt::zeros<float>(x.shape());
        k::softmax_backward(y, fixture(f, key + ".dy"), dx, dim);
        require_allclose(dx, fixture(f, key + ".dx"));
    }
}

TEST_CASE("softmax sums to one along its dim, in place, and a negative dim counts from the back",
          "[softmax]") {
    const xt::xarray<double> x = random_array(odd_shape, 300, -50, 50);
    xt::xarray<double> y = x;
    k::softmax_forward(y, y, -2);
    const xt::xarray<double> sums = xt::sum(y, {1});
    CHECK(xt::allclose(sums, xt::ones<double>(sums.shape()), 1e-14, 1e-14));
    CHECK((y == softmax_of(x, 1)));
    CHECK((softmax_of(x, -3) == softmax_of(x, 0)));
    const xt::xarray<double> scalar = 4.0;
    REQUIRE(scalar.dimension() == 0);
    CHECK(softmax_of(scalar, -1)() == 1.0);
}

TEST_CASE("softmax with write::accumulate adds to the gradient buffer", "[softmax]") {
    const xt::xarray<double> y = softmax_of(random_array(odd_shape, 400), 1);
    const xt::xarray<double> dy = random_array(odd_shape, 401);
    xt::xarray<double> fresh = xt::zeros<double>(y.shape());
    k::softmax_backward(y, dy, fresh, 1);
    const xt::xarray<double> before = random_array(odd_shape, 402);
    xt::xarray<double> summed = before;
    k::softmax_backward(y, dy, summed, 1, k::write::accumulate);
    CHECK(xt::allclose(summed, xt::xarray<double>(before + fresh), 1e-15, 1e-15));
}

TEST_CASE("softmax rejects a dim outside the rank and mismatched shapes, naming the op and the shapes",
          "[softmax][errors]") {
    const xt::xarray<float> x = xt::zeros<float>({3, 4});
    xt::xarray<float> y = xt::zeros<float>({3, 4});
    CHECK_THROWS_AS(k::softmax_forward(x, y, 2), katachi::shape_mismatch);
    CHECK_THROWS_WITH(k::softmax_forward(x, y, -3), Catch::Contains("softmax_forward") &&
                                                        Catch::Contains("dim -3") &&
                                                        Catch::Contains("[3, 4]"));
    xt::xarray<float> wrong = xt::zeros<float>({4, 3});
    CHECK_THROWS_WITH(k::softmax_forward(x, wrong), Catch::Contains("softmax_forward") &&
                                                        Catch::Contains("[3, 4]") &&
                                                        Catch::Contains("[4, 3]"));
    CHECK_THROWS_WITH(k::softmax_backward(y, x, wrong), Catch::Contains("softmax_backward") &&
                                                            Catch::Contains("[3, 4]") &&
                                                            Catch::Contains("[4, 3]"));
}
