// avg_pool2d: finite-difference checks of the backward in float64, PyTorch fixtures for every
// divisor rule (padding counted or not, ceil-mode overhang, divisor_override), and the errors.
#include <catch2/catch.hpp>
#include <katachi/kernels/avg_pool2d.hpp>
#include <vector>
#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"

using namespace katachi;
using namespace katachi::kernels;

namespace {

template <class S>
std::vector<std::size_t> dims(const S& s) {
    return {s.begin(), s.end()};
}

void check_gradient(const std::vector<std::size_t>& shape, const avg_pool2d_options& o, std::uint32_t seed) {
    xt::xarray<double> x = test::random_array(shape, seed);
    const auto out = avg_pool2d_output_shape(x.shape(), o);
    xt::xarray<double> y = xt::zeros<double>(out);
    const xt::xarray<double> r = test::random_array(dims(out), seed + 1);
    auto loss = [&] {
        avg_pool2d_forward(x, y, o);
        return test::weighted_sum(y, r);
    };
    const xt::xarray<double> numeric = test::numeric_gradient(loss, x);
    xt::xarray<double> dx = xt::zeros<double>(x.shape());
    avg_pool2d_backward(r, dx, o);
    KATACHI_CHECK_GRADIENT(dx, numeric);
}

void check_against_pytorch(const std::string& name, const avg_pool2d_options& o) {
    const auto file = test::load_fixture_file("pool.safetensors");
    const xt::xarray<float> x = test::fixture<float>(file, name + ".x");
    const auto out = avg_pool2d_output_shape(x.shape(), o);
    xt::xarray<float> y = xt::zeros<float>(out);
    avg_pool2d_forward(x, y, o);
    test::require_allclose(y, test::fixture<float>(file, name + ".y"));
    xt::xarray<float> dx = xt::zeros<float>(x.shape());
    avg_pool2d_backward(test::fixture<float>(file, name + ".dy"), dx, o);
    test::require_allclose(dx, test::fixture<float>(file, name + ".dx"));
}

const avg_pool2d_options s2_p1{.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}};
const avg_pool2d_options s2_p1_ceil_exclude_pad{.kernel_size = {3, 3},
                                                .stride = {2, 2},
                                                .padding = {1, 1},
                                                .ceil_mode = true,
                                                .count_include_pad = false};
const avg_pool2d_options k3x2_s2_p1_ceil_include_pad{
    .kernel_size = {3, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true};
const avg_pool2d_options divisor_5{
    .kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true, .divisor_override = 5};
const avg_pool2d_options k2_default_stride{.kernel_size = {2, 2}};

}  // namespace

TEST_CASE("avg_pool2d backward matches finite differences with stride 2 and padding 1 on 17x15",
          "[avg_pool2d]") {
    check_gradient({2, 3, 17, 15}, s2_p1, 41);
}

TEST_CASE("avg_pool2d backward matches finite differences in ceil mode, padding included or excluded",
          "[avg_pool2d]") {
    check_gradient({2, 2, 17, 15}, s2_p1_ceil_exclude_pad, 42);
    check_gradient({2, 2, 17, 15}, k3x2_s2_p1_ceil_include_pad, 43);
}

TEST_CASE("avg_pool2d backward matches finite differences with a divisor override and overlapping windows",
          "[avg_pool2d]") {
    check_gradient({1, 2, 17, 15}, divisor_5, 44);
    check_gradient({1, 2, 9, 8}, {.kernel_size = {3, 2}, .stride = {1, 1}, .padding = {1, 0}}, 45);
}

TEST_CASE("avg_pool2d matches PyTorch with stride 2, padding 1, padding counted", "[avg_pool2d]") {
    check_against_pytorch("avg_s2_p1", s2_p1);
}

TEST_CASE("avg_pool2d matches PyTorch in ceil mode with count_include_pad off", "[avg_pool2d]") {
    check_against_pytorch("avg_s2_p1_ceil_exclude_pad", s2_p1_ceil_exclude_pad);
}

TEST_CASE("avg_pool2d matches PyTorch in ceil mode counting padding but not the overhang", "[avg_pool2d]") {
    check_against_pytorch("avg_k3x2_s2_p1_ceil_include_pad", k3x2_s2_p1_ceil_include_pad);
}

TEST_CASE("avg_pool2d matches PyTorch with divisor_override and with the default stride", "[avg_pool2d]") {
    check_against_pytorch("avg_divisor_override", divisor_5);
    check_against_pytorch("avg_k2_default_stride", k2_default_stride);
}

TEST_CASE("avg_pool2d of a constant plane without padding is that constant", "[avg_pool2d]") {
    const xt::xarray<double> x = xt::ones<double>({1, 2, 7, 9}) * 2.5;
    xt::xarray<double> y = xt::zeros<double>({1, 2, 3, 4});
    avg_pool2d_forward(x, y, {.kernel_size = {3, 3}, .stride = {2, 2}});
    CHECK(xt::allclose(y, xt::ones<double>({1, 2, 3, 4}) * 2.5, 0.0, 1e-15));
    // Excluding padding keeps the constant at the border too.
    xt::xarray<double> y_pad = xt::zeros<double>({1, 2, 4, 5});
    avg_pool2d_forward(
        x, y_pad, {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .count_include_pad = false});
    CHECK(xt::allclose(y_pad, xt::ones<double>({1, 2, 4, 5}) * 2.5, 0.0, 1e-15));
}

TEST_CASE("avg_pool2d backward in accumulate mode adds to the existing gradient", "[avg_pool2d]") {
    const auto out = avg_pool2d_output_shape(std::vector<std::size_t>{2, 2, 17, 15}, s2_p1_ceil_exclude_pad);
    const xt::xarray<double> dy = test::random_array(dims(out), 51);
    xt::xarray<double> fresh = test::random_array({2, 2, 17, 15}, 52);
    avg_pool2d_backward(dy, fresh, s2_p1_ceil_exclude_pad);
    const xt::xarray<double> before = test::random_array({2, 2, 17, 15}, 53);
    xt::xarray<double> acc = before;
    avg_pool2d_backward(dy, acc, s2_p1_ceil_exclude_pad, write::accumulate);
    CHECK(xt::allclose(acc, before + fresh, 0.0, 1e-15));
}

TEST_CASE("avg_pool2d rejects rank-1 and rank-3 inputs, naming the kernel and the shape",
          "[avg_pool2d][errors]") {
    xt::xarray<float> y = xt::zeros<float>({1, 1, 8, 7});
    const xt::xarray<float> rank1 = xt::zeros<float>({15});
    CHECK_THROWS_AS(avg_pool2d_forward(rank1, y), shape_mismatch);
    CHECK_THROWS_WITH(avg_pool2d_forward(rank1, y), Catch::Contains("avg_pool2d_forward") &&
                                                        Catch::Contains("[15]") && Catch::Contains("rank 4"));
    const xt::xarray<float> rank3 = xt::zeros<float>({1, 17, 15});
    CHECK_THROWS_WITH(avg_pool2d_forward(rank3, y),
                      Catch::Contains("[1, 17, 15]") && Catch::Contains("rank 4"));
    xt::xarray<float> dx3 = xt::zeros<float>({1, 17, 15});
    CHECK_THROWS_WITH(avg_pool2d_backward(y, dx3),
                      Catch::Contains("avg_pool2d_backward") && Catch::Contains("dx has shape [1, 17, 15]"));
}

TEST_CASE("avg_pool2d rejects a zero stride, too much padding and wrong output buffers",
          "[avg_pool2d][errors]") {
    const xt::xarray<float> x = xt::zeros<float>({1, 1, 17, 15});
    xt::xarray<float> y = xt::zeros<float>({1, 1, 8, 7});
    CHECK_THROWS_AS(avg_pool2d_forward(x, y, {.kernel_size = {2, 2}, .stride = {0, 2}}),
                    shape_arithmetic_error);
    CHECK_THROWS_WITH(avg_pool2d_forward(x, y, {.kernel_size = {2, 2}, .stride = {0, 2}}),
                      Catch::Contains("avg_pool2d") && Catch::Contains("stride must be at least 1"));
    CHECK_THROWS_WITH(avg_pool2d_forward(x, y, {.kernel_size = {3, 3}, .padding = {2, 2}}),
                      Catch::Contains("at most half of the kernel size"));
    xt::xarray<float> y_bad = xt::zeros<float>({1, 1, 9, 8});
    CHECK_THROWS_WITH(avg_pool2d_forward(x, y_bad),
                      Catch::Contains("y has shape [1, 1, 9, 8], expected [1, 1, 8, 7]"));
    xt::xarray<float> dx = xt::zeros<float>({1, 1, 17, 15});
    CHECK_THROWS_WITH(avg_pool2d_backward(y_bad, dx),
                      Catch::Contains("dy has shape [1, 1, 9, 8], expected [1, 1, 8, 7]"));
}
