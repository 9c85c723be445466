// adaptive_avg_pool2d: finite-difference checks of the backward in float64 (shrinking and growing
// planes, overlapping windows), PyTorch fixtures, and the errors.
#include <catch2/catch.hpp>
#include <katachi/kernels/adaptive_avg_pool2d.hpp>
#include <vector>
#include <xtensor/xarray.hpp>

#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"

using namespace katachi;
using namespace katachi::kernels;

namespace {

void check_gradient(const std::vector<std::size_t>& in, std::size_t ho, std::size_t wo, std::uint32_t seed) {
    xt::xarray<double> x = test::random_array(in, seed);
    xt::xarray<double> y = xt::zeros<double>({in[0], in[1], ho, wo});
    const xt::xarray<double> r = test::random_array({in[0], in[1], ho, wo}, seed + 1);
    auto loss = [&] {
        adaptive_avg_pool2d_forward(x, y);
        return test::weighted_sum(y, r);
    };
    const xt::xarray<double> numeric = test::numeric_gradient(loss, x);
    xt::xarray<double> dx = xt::zeros<double>(x.shape());
    adaptive_avg_pool2d_backward(r, dx);
    KATACHI_CHECK_GRADIENT(dx, numeric);
}

void check_against_pytorch(const std::string& name) {
    const auto file = test::load_fixture_file("pool.safetensors");
    const xt::xarray<float> x = test::fixture<float>(file, name + ".x");
    const xt::xarray<float> expected = test::fixture<float>(file, name + ".y");
    xt::xarray<float> y = xt::zeros<float>(expected.shape());
    adaptive_avg_pool2d_forward(x, y);
    test::require_allclose(y, expected);
    xt::xarray<float> dx = xt::zeros<float>(x.shape());
    adaptive_avg_pool2d_backward(test::fixture<float>(file, name + ".dy"), dx);
    test::require_allclose(dx, test::fixture<float>(file, name + ".dx"));
}

}  // namespace

TEST_CASE("adaptive_avg_pool2d backward matches finite differences from 17x15 down to 5x4",
          "[adaptive_avg_pool2d]") {
    check_gradient({2, 3, 17, 15}, 5, 4, 61);
}

TEST_CASE("adaptive_avg_pool2d backward matches finite differences when the output is larger than the input",
          "[adaptive_avg_pool2d]") {
    check_gradient({2, 2, 3, 5}, 4, 7, 62);
    check_gradient({1, 2, 7, 6}, 1, 1, 63);
}

TEST_CASE("adaptive_avg_pool2d matches PyTorch from 17x15 to 5x4", "[adaptive_avg_pool2d]") {
    check_against_pytorch("adaptive_17x15_to_5x4");
}

TEST_CASE("adaptive_avg_pool2d matches PyTorch from 3x5 to 4x7 with overlapping windows",
          "[adaptive_avg_pool2d]") {
    check_against_pytorch("adaptive_3x5_to_4x7");
}

TEST_CASE("adaptive_avg_pool2d to 1x1 is the mean of each plane", "[adaptive_avg_pool2d]") {
    const xt::xarray<double> x = test::random_array({2, 3, 5, 4}, 64);
    xt::xarray<double> y = xt::zeros<double>({2, 3, 1, 1});
    adaptive_avg_pool2d_forward(x, y);
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t c = 0; c < 3; ++c) {
            double sum = 0;
            for (std::size_t h = 0; h < 5; ++h)
                for (std::size_t w = 0; w < 4; ++w) sum += x(n, c, h, w);
            CHECK(y(n, c, 0, 0) == Approx(sum / 20).epsilon(1e-14));
        }
}

TEST_CASE("adaptive_avg_pool2d backward in accumulate mode adds to the existing gradient",
          "[adaptive_avg_pool2d]") {
    const xt::xarray<double> dy = test::random_array({2, 2, 4, 7}, 65);
    xt::xarray<double> fresh = test::random_array({2, 2, 3, 5}, 66);
    adaptive_avg_pool2d_backward(dy, fresh);
    const xt::xarray<double> before = test::random_array({2, 2, 3, 5}, 67);
    xt::xarray<double> acc = before;
    adaptive_avg_pool2d_backward(dy, acc, write::accumulate);
    CHECK(xt::allclose(acc, before + fresh, 0.0, 1e-15));
}

TEST_CASE("adaptive_avg_pool2d rejects non-batches, mismatched channels and empty planes",
          "[adaptive_avg_pool2d][errors]") {
    xt::xarray<float> y = xt::zeros<float>({1, 2, 3, 3});
    const xt::xarray<float> rank1 = xt::zeros<float>({9});
    CHECK_THROWS_WITH(adaptive_avg_pool2d_forward(rank1, y), Catch::Contains("adaptive_avg_pool2d_forward") &&
                                                                 Catch::Contains("[9]") &&
                                                                 Catch::Contains("rank 4"));
    const xt::xarray<float> rank3 = xt::zeros<float>({2, 9, 9});
    CHECK_THROWS_AS(adaptive_avg_pool2d_forward(rank3, y), shape_mismatch);
    const xt::xarray<float> x = xt::zeros<float>({1, 3, 9, 9});
    CHECK_THROWS_WITH(adaptive_avg_pool2d_forward(x, y), Catch::Contains("batch and channel sizes"));
    xt::xarray<float> empty = xt::zeros<float>({1, 3, 0, 2});
    CHECK_THROWS_WITH(adaptive_avg_pool2d_forward(x, empty), Catch::Contains("non-empty planes"));
    xt::xarray<float> dx = xt::zeros<float>({1, 3, 9, 9});
    CHECK_THROWS_WITH(adaptive_avg_pool2d_backward(y, dx), Catch::Contains("adaptive_avg_pool2d_backward"));
}
