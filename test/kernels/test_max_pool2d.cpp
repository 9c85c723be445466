// max_pool2d: finite-difference checks of the backward in float64, PyTorch fixtures (values,
// indices, gradients, ties), and the errors a caller can run into.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <katachi/kernels/max_pool2d.hpp>
#include <katachi/parallel.hpp>
#include <limits>
#include <numeric>
#include <random>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "support/checks.hpp"
#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"

using namespace katachi;
using namespace katachi::kernels;
using katachi::test::message_of;

namespace {

// A shuffled ramp: all values distinct and 0.01 apart, so no window has a tie that a step of
// 1e-6 could flip.
xt::xarray<double> distinct_values(std::vector<std::size_t> shape, std::uint32_t seed) {
    xt::xarray<double> a = xt::zeros<double>(shape);
    std::vector<double> v(a.size());
    std::iota(v.begin(), v.end(), 0.0);
    std::shuffle(v.begin(), v.end(), std::mt19937(seed));
    for (std::size_t i = 0; i < v.size(); ++i)
        a.data()[i] = 0.01 * v[i] - 0.005 * static_cast<double>(v.size());
    return a;
}

template <class S>
std::vector<std::size_t> dims(const S& s) {
    return {s.begin(), s.end()};
}

void check_gradient(const std::vector<std::size_t>& shape, const max_pool2d_options& o, std::uint32_t seed) {
    xt::xarray<double> x = distinct_values(shape, seed);
    const auto out = max_pool2d_output_shape(x.shape(), o);
    xt::xarray<double> y = xt::zeros<double>(out);
    xt::xarray<std::int64_t> idx = xt::zeros<std::int64_t>(out);
    const xt::xarray<double> r = test::random_array(dims(out), seed + 1);
    auto loss = [&] {
        max_pool2d_forward(x, y, idx, o);
        return test::weighted_sum(y, r);
    };
    const xt::xarray<double> numeric = test::numeric_gradient(loss, x);
    max_pool2d_forward(x, y, idx, o);
    xt::xarray<double> dx = xt::zeros<double>(x.shape());
    max_pool2d_backward(r, idx, dx);
    KATACHI_CHECK_GRADIENT(dx, numeric);
}

void check_against_pytorch(const std::string& name, const max_pool2d_options& o) {
    const auto file = test::load_fixture_file("pool.safetensors");
    const xt::xarray<float> x = test::fixture<float>(file, name + ".x");
    const auto out = max_pool2d_output_shape(x.shape(), o);
    xt::xarray<float> y = xt::zeros<float>(out);
    xt::xarray<std::int64_t> idx = xt::zeros<std::int64_t>(out);
    max_pool2d_forward(x, y, idx, o);
    test::require_allclose(y, test::fixture<float>(file, name + ".y"));
    const xt::xarray<std::int64_t> expected_idx = test::fixture<std::int64_t>(file, name + ".indices");
    REQUIRE(idx.shape() == expected_idx.shape());
    CHECK((idx == expected_idx));
    xt::xarray<float> dx = xt::zeros<float>(x.shape());
    max_pool2d_backward(test::fixture<float>(file, name + ".dy"), idx, dx);
    test::require_allclose(dx, test::fixture<float>(file, name + ".dx"));
}

const max_pool2d_options s2_p1_d2{
    .kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .dilation = {2, 2}};
const max_pool2d_options s2_p1_ceil{
    .kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true};
const max_pool2d_options k2x3_default_stride_ceil{
    .kernel_size = {2, 3}, .padding = {1, 1}, .ceil_mode = true};
const max_pool2d_options ties_s1_p1{.kernel_size = {3, 3}, .stride = {1, 1}, .padding = {1, 1}};

}  // namespace

TEST_CASE("max_pool2d backward matches finite differences with stride 2, padding 1, dilation 2 on 17x15",
          "[max_pool2d]") {
    check_gradient({2, 3, 17, 15}, s2_p1_d2, 11);
}

TEST_CASE("max_pool2d backward matches finite differences in ceil mode, with the last window overhanging",
          "[max_pool2d]") {
    check_gradient({2, 2, 17, 15}, s2_p1_ceil, 12);
    check_gradient({1, 2, 17, 15}, k2x3_default_stride_ceil, 13);
}

TEST_CASE("max_pool2d backward adds up gradients where stride-1 windows overlap", "[max_pool2d]") {
    check_gradient({2, 2, 9, 7}, {.kernel_size = {3, 2}, .stride = {1, 1}, .padding = {1, 1}}, 14);
}

TEST_CASE("max_pool2d matches PyTorch with stride 2, padding 1, dilation 2", "[max_pool2d]") {
    check_against_pytorch("max_s2_p1_d2", s2_p1_d2);
}

TEST_CASE("max_pool2d matches PyTorch in ceil mode and with the default stride", "[max_pool2d]") {
    check_against_pytorch("max_s2_p1_ceil", s2_p1_ceil);
    check_against_pytorch("max_k2x3_default_stride_ceil", k2x3_default_stride_ceil);
}

TEST_CASE("max_pool2d picks the same maximum as PyTorch among ties", "[max_pool2d]") {
    check_against_pytorch("max_ties_s1_p1", ties_s1_p1);
}

TEST_CASE("max_pool2d takes the first window position, row-major, when all values are equal",
          "[max_pool2d]") {
    const xt::xarray<float> x = xt::ones<float>({1, 1, 5, 6});
    xt::xarray<float> y = xt::zeros<float>({1, 1, 5, 6});
    xt::xarray<std::int64_t> idx = xt::zeros<std::int64_t>({1, 1, 5, 6});
    max_pool2d_forward(x, y, idx, ties_s1_p1);
    for (std::int64_t i = 0; i < 5; ++i)
        for (std::int64_t j = 0; j < 6; ++j) {
            INFO("output (" << i << ", " << j << ")");
            CHECK(idx(0, 0, i, j) == std::max<std::int64_t>(i - 1, 0) * 6 + std::max<std::int64_t>(j - 1, 0));
        }
    CHECK((y == x));
}

TEST_CASE("max_pool2d propagates a NaN in its window", "[max_pool2d]") {
    xt::xarray<double> x = distinct_values({1, 1, 4, 4}, 3);
    x(0, 0, 1, 2) = std::numeric_limits<double>::quiet_NaN();
    xt::xarray<double> y = xt::zeros<double>({1, 1, 2, 2});
    xt::xarray<std::int64_t> idx = xt::zeros<std::int64_t>({1, 1, 2, 2});
    max_pool2d_forward(x, y, idx, {});
    CHECK(std::isnan(y(0, 0, 0, 1)));
    CHECK(idx(0, 0, 0, 1) == 1 * 4 + 2);
    CHECK_FALSE(std::isnan(y(0, 0, 0, 0)));
    CHECK_FALSE(std::isnan(y(0, 0, 1, 1)));
}

TEST_CASE("max_pool2d backward in accumulate mode adds to the existing gradient", "[max_pool2d]") {
    const xt::xarray<double> x = distinct_values({2, 2, 17, 15}, 21);
    const auto out = max_pool2d_output_shape(x.shape(), s2_p1_d2);
    xt::xarray<double> y = xt::zeros<double>(out);
    xt::xarray<std::int64_t> idx = xt::zeros<std::int64_t>(out);
    max_pool2d_forward(x, y, idx, s2_p1_d2);
    const xt::xarray<double> dy = test::random_array(dims(out), 22);
    xt::xarray<double> fresh = test::random_array(dims(x.shape()), 23);
    max_pool2d_backward(dy, idx, fresh);
    const xt::xarray<double> before = test::random_array(dims(x.shape()), 24);
    xt::xarray<double> acc = before;
    max_pool2d_backward(dy, idx, acc, write::accumulate);
    CHECK(xt::allclose(acc, before + fresh, 0.0, 1e-15));
}

TEST_CASE("max_pool2d writes into fixed-rank containers and non-owning adaptors", "[max_pool2d]") {
    const xt::xarray<double> x = distinct_values({2, 3, 17, 15}, 31);
    const auto out = max_pool2d_output_shape(x.shape(), s2_p1_d2);
    xt::xarray<double> y_ref = xt::zeros<double>(out);
    xt::xarray<std::int64_t> idx_ref = xt::zeros<std::int64_t>(out);
    max_pool2d_forward(x, y_ref, idx_ref, s2_p1_d2);

    std::vector<double> y_storage(y_ref.size(), -1.0);
    xt::xtensor<std::int64_t, 4> idx = xt::zeros<std::int64_t>(out);
    max_pool2d_forward(x, xt::adapt(y_storage.data(), y_storage.size(), xt::no_ownership(), out), idx,
                       s2_p1_d2);
    CHECK(std::equal(y_storage.begin(), y_storage.end(), y_ref.begin()));
    CHECK((idx == idx_ref));
}

TEST_CASE("max_pool2d rejects inputs that are not a batch of rank 4, naming the kernel and the shape",
          "[max_pool2d][errors]") {
    xt::xarray<float> y = xt::zeros<float>({1, 1, 8, 7});
    xt::xarray<std::int64_t> idx = xt::zeros<std::int64_t>({1, 1, 8, 7});
    const xt::xarray<float> rank1 = xt::zeros<float>({17});
    CHECK_THROWS_AS(max_pool2d_forward(rank1, y, idx), shape_mismatch);
    CHECK_THROWS_WITH(max_pool2d_forward(rank1, y, idx), Catch::Contains("max_pool2d_forward") &&
                                                             Catch::Contains("[17]") &&
                                                             Catch::Contains("rank 4, [N, C, H, W]"));
    const xt::xarray<float> rank3 = xt::zeros<float>({1, 17, 15});
    CHECK_THROWS_WITH(max_pool2d_forward(rank3, y, idx), Catch::Contains("max_pool2d_forward") &&
                                                             Catch::Contains("[1, 17, 15]") &&
                                                             Catch::Contains("leading batch dimension"));
    CHECK_THROWS_WITH(max_pool2d_output_shape(rank3.shape(), {}),
                      Catch::Contains("max_pool2d") && Catch::Contains("[1, 17, 15]"));
    CHECK_THROWS_AS(
        max_pool2d_backward(rank3, xt::xarray<std::int64_t>(xt::zeros<std::int64_t>({1, 17, 15})), y),
        shape_mismatch);
}

TEST_CASE("max_pool2d rejects a zero stride and a window larger than the padded input",
          "[max_pool2d][errors]") {
    const xt::xarray<float> x = xt::zeros<float>({1, 1, 17, 15});
    xt::xarray<float> y = xt::zeros<float>({1, 1, 8, 7});
    xt::xarray<std::int64_t> idx = xt::zeros<std::int64_t>({1, 1, 8, 7});
    try {
        max_pool2d_forward(x, y, idx, {.kernel_size = {2, 2}, .stride = {2, 0}});
        FAIL("no exception");
    } catch (const shape_arithmetic_error& e) {
        CHECK(e.rule() == size_error::zero_stride);
        CHECK_THAT(e.what(), Catch::Contains("max_pool2d") && Catch::Contains("stride 0"));
    }
    CHECK_THROWS_AS(max_pool2d_output_shape(std::vector<std::size_t>{1, 1, 2, 2}, {.kernel_size = {3, 3}}),
                    shape_arithmetic_error);
}

TEST_CASE("max_pool2d rejects output buffers of the wrong shape", "[max_pool2d][errors]") {
    const xt::xarray<float> x = xt::zeros<float>({2, 1, 17, 15});
    xt::xarray<float> y = xt::zeros<float>({2, 1, 8, 8});  // floor mode gives 8 x 7
    xt::xarray<float> y_ok = xt::zeros<float>({2, 1, 8, 7});
    xt::xarray<std::int64_t> idx = xt::zeros<std::int64_t>({2, 1, 8, 7});
    xt::xarray<std::int64_t> idx_bad = xt::zeros<std::int64_t>({2, 8, 7});
    CHECK_THROWS_WITH(max_pool2d_forward(x, y, idx),
                      Catch::Contains("max_pool2d_forward: y has shape [2, 1, 8, 8], "
                                      "expected [2, 1, 8, 7]"));
    CHECK_THROWS_WITH(max_pool2d_forward(x, y_ok, idx_bad), Catch::Contains("indices has shape [2, 8, 7]"));
    xt::xarray<float> dx_bad = xt::zeros<float>({2, 3, 17, 15});
    CHECK_THROWS_WITH(max_pool2d_backward(y_ok, idx, dx_bad), Catch::Contains("batch and channel sizes"));
}

TEST_CASE("max_pool2d backward rejects an index outside the input plane", "[max_pool2d][errors]") {
    const xt::xarray<float> dy = xt::ones<float>({1, 1, 2, 2});
    xt::xarray<std::int64_t> idx = xt::zeros<std::int64_t>({1, 1, 2, 2});
    idx(0, 0, 1, 1) = 16;
    xt::xarray<float> dx = xt::zeros<float>({1, 1, 4, 4});
    CHECK_THROWS_AS(max_pool2d_backward(dy, idx, dx), std::out_of_range);
    idx(0, 0, 1, 1) = 15;
    max_pool2d_backward(dy, idx, dx);
    CHECK(dx(0, 0, 0, 0) == 3.0f);
    CHECK(dx(0, 0, 3, 3) == 1.0f);
}

TEST_CASE(
    "max_pool2d's 2x2 stride-2 path gives the window loop's values and indices, with ties, NaN and "
    "-inf, on odd sizes",
    "[max_pool2d]") {
    const std::size_t planes = 6, H = 9, W = 11, Ho = 4, Wo = 5;
    std::mt19937 rng(41);
    std::uniform_int_distribution<int> level(0, 3);  // few distinct values: many ties
    std::uniform_int_distribution<int> special(0, 19);
    std::vector<float> x(planes * H * W);
    for (float& v : x) {
        const int s = special(rng);
        v = s == 0   ? std::numeric_limits<float>::quiet_NaN()
            : s == 1 ? -std::numeric_limits<float>::infinity()
            : s == 2 ? -0.0f
                     : static_cast<float>(level(rng)) - 1.5f;
    }
    std::vector<float> y_fast(planes * Ho * Wo, 7.0f), y_loop(planes * Ho * Wo, 8.0f);
    std::vector<std::int64_t> i_fast(y_fast.size(), -1), i_loop(y_fast.size(), -2);
    kernels::detail::max_pool_2x2(x.data(), y_fast.data(), i_fast.data(), planes, H, W, Ho, Wo);
    kernels::detail::max_pool_windows(x.data(), y_loop.data(), i_loop.data(), planes,
                                      {9, 11, 4, 5, 2, 2, 2, 2, 0, 0, 1, 1});
    std::size_t nans = 0;
    for (std::size_t k = 0; k < y_fast.size(); ++k) {
        INFO("output " << k);
        CHECK(i_fast[k] == i_loop[k]);
        CHECK(std::isnan(y_fast[k]) == std::isnan(y_loop[k]));
        if (!std::isnan(y_loop[k])) CHECK(y_fast[k] == y_loop[k]);
        nans += std::isnan(y_loop[k]) ? 1 : 0;
    }
    CHECK(nans > 0);  // the data exercised NaN propagation

    // The public kernel takes the 2x2 path for these options and agrees with the loop.
    const auto xa = xt::adapt(x.data(), x.size(), xt::no_ownership(), std::array<std::size_t, 4>{2, 3, H, W});
    xt::xtensor<float, 4> y = xt::zeros<float>({2, 3, 4, 5});
    xt::xtensor<std::int64_t, 4> idx = xt::zeros<std::int64_t>({2, 3, 4, 5});
    max_pool2d_forward(xa, y, idx, {.kernel_size = {2, 2}});
    CHECK(std::equal(idx.begin(), idx.end(), i_loop.begin()));
}

namespace {

// Values with many ties, NaN, -inf and signed zeros, for comparing the pooling's paths.
std::vector<float> awkward_values(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> level(0, 3);
    std::uniform_int_distribution<int> special(0, 19);
    std::vector<float> x(n);
    for (float& v : x) {
        const int s = special(rng);
        v = s == 0   ? std::numeric_limits<float>::quiet_NaN()
            : s == 1 ? -std::numeric_limits<float>::infinity()
            : s == 2 ? -0.0f
            : s == 3 ? 0.0f
                     : static_cast<float>(level(rng)) - 1.5f;
    }
    return x;
}

}  // namespace

TEST_CASE("max_pool2d without indices gives the values of the indexed forward, NaN and signed zero included",
          "[max_pool2d]") {
    // 9x11: one part-filled vector of windows per row; 6x37: two whole vectors and a part (AVX2).
    for (const auto& [H, W] : {std::pair<std::size_t, std::size_t>{9, 11}, {6, 37}}) {
        xt::xtensor<float, 4> x = xt::zeros<float>({std::size_t{2}, std::size_t{3}, H, W});
        const std::vector<float> values = awkward_values(x.size(), 51);
        std::copy(values.begin(), values.end(), x.begin());
        const max_pool2d_options plain{.kernel_size = {2, 2}};
        const max_pool2d_options windows{.kernel_size = {3, 3}, .stride = {2, 1}, .padding = {1, 1}};
        const max_pool2d_options dilated_ceil{.kernel_size = {2, 3},
                                              .stride = {2, 2},
                                              .padding = {1, 0},
                                              .dilation = {2, 1},
                                              .ceil_mode = true};
        std::size_t nans = 0, negative_zeros = 0;
        for (const auto& o : {plain, windows, dilated_ceil}) {
            const auto out = max_pool2d_output_shape(x.shape(), o);
            xt::xtensor<float, 4> with = xt::zeros<float>(out), without = xt::ones<float>(out);
            xt::xtensor<std::int64_t, 4> idx = xt::zeros<std::int64_t>(out);
            max_pool2d_forward(x, with, idx, o);
            max_pool2d_forward(x, without, none, o);
            for (std::size_t k = 0; k < with.size(); ++k) {
                INFO("kernel " << o.kernel_size[0] << "x" << o.kernel_size[1] << ", output " << k);
                const float a = with.data()[k], b = without.data()[k];
                REQUIRE(std::isnan(a) == std::isnan(b));
                if (!std::isnan(a)) {
                    CHECK(a == b);
                    CHECK(std::signbit(a) == std::signbit(b));
                }
                nans += std::isnan(a) ? 1 : 0;
                negative_zeros += a == 0 && std::signbit(a) ? 1 : 0;
            }
        }
        CHECK(nans > 0);  // the data exercised NaN propagation and the sign of zero
        CHECK(negative_zeros > 0);
    }
    xt::xtensor<float, 4> x =
        xt::zeros<float>({std::size_t{2}, std::size_t{3}, std::size_t{9}, std::size_t{11}});
    const max_pool2d_options plain{.kernel_size = {2, 2}};
    xt::xtensor<float, 4> wrong = xt::zeros<float>({2, 3, 4, 4});
    CHECK_THROWS_WITH(max_pool2d_forward(x, wrong, none, plain),
                      Catch::Contains("max_pool2d_forward: y has shape [2, 3, 4, 4]"));
}

TEST_CASE(
    "max_pool2d's 2x2 path gives the window loop's values and indices on rows of many vectors, as flat "
    "indices and as window positions",
    "[max_pool2d]") {
    // 37 and 34 columns: 18 and 17 windows a row, two blocks of 8 and a rest; odd and even heights.
    for (const auto& [H, W] : {std::pair<std::size_t, std::size_t>{9, 37}, {6, 34}, {2, 16}}) {
        INFO(H << "x" << W);
        const std::size_t planes = 5, Ho = H / 2, Wo = W / 2;
        const std::vector<float> x = awkward_values(planes * H * W, static_cast<std::uint32_t>(H * W));
        std::vector<float> y_fast(planes * Ho * Wo, 7.0f), y_pos(planes * Ho * Wo, 6.0f),
            y_loop(planes * Ho * Wo, 8.0f);
        std::vector<std::int64_t> i_fast(y_fast.size(), -1), i_loop(y_fast.size(), -2);
        std::vector<std::uint8_t> pos(y_fast.size(), 9);
        kernels::detail::max_pool_2x2(x.data(), y_fast.data(), i_fast.data(), planes, H, W, Ho, Wo);
        kernels::detail::max_pool_2x2(x.data(), y_pos.data(), pos.data(), planes, H, W, Ho, Wo);
        kernels::detail::max_pool_windows(x.data(), y_loop.data(), i_loop.data(), planes,
                                          {std::ptrdiff_t(H), std::ptrdiff_t(W), std::ptrdiff_t(Ho),
                                           std::ptrdiff_t(Wo), 2, 2, 2, 2, 0, 0, 1, 1});
        for (std::size_t k = 0; k < y_fast.size(); ++k) {
            INFO("output " << k);
            const std::size_t plane_at = k % (Ho * Wo), i = plane_at / Wo, j = plane_at % Wo;
            CHECK(i_fast[k] == i_loop[k]);
            REQUIRE(pos[k] < 4);
            CHECK(static_cast<std::int64_t>((2 * i + pos[k] / 2) * W + 2 * j + pos[k] % 2) == i_loop[k]);
            CHECK(std::isnan(y_fast[k]) == std::isnan(y_loop[k]));
            CHECK(std::isnan(y_pos[k]) == std::isnan(y_loop[k]));
            if (!std::isnan(y_loop[k])) {
                CHECK(y_fast[k] == y_loop[k]);
                CHECK(y_pos[k] == y_loop[k]);
                CHECK(std::signbit(y_fast[k]) == std::signbit(y_loop[k]));
            }
        }
    }
}

TEST_CASE(
    "max_pool2d backward from window positions gives the gradient of the flat indices, overwriting, "
    "accumulating and masked, on odd and even sizes",
    "[max_pool2d]") {
    // The 8 x 16 planes of 9x37 are enough work to split over two threads, so a part's last row meets
    // the next part's first.
    const int saved_threads = katachi::get_num_threads();
    katachi::set_num_threads(2);
    for (const auto& [H, W] : {std::pair<std::size_t, std::size_t>{9, 37}, {6, 34}, {5, 4}}) {
        INFO(H << "x" << W);
        const std::size_t N = H == 9 ? 8 : 2, C = H == 9 ? 16 : 3, Ho = H / 2, Wo = W / 2;
        const std::vector<float> xv = awkward_values(N * C * H * W, static_cast<std::uint32_t>(3 * H + W));
        const auto x =
            xt::adapt(xv.data(), xv.size(), xt::no_ownership(), std::array<std::size_t, 4>{N, C, H, W});
        xt::xtensor<float, 4> y = xt::zeros<float>({N, C, Ho, Wo}), y_pos = y;
        xt::xtensor<std::int64_t, 4> idx = xt::zeros<std::int64_t>({N, C, Ho, Wo});
        xt::xtensor<std::uint8_t, 4> pos = xt::zeros<std::uint8_t>({N, C, Ho, Wo});
        max_pool2d_forward(x, y, idx, {.kernel_size = {2, 2}});
        max_pool2d_forward(x, y_pos, pos, {.kernel_size = {2, 2}});
        const std::vector<float> gv = awkward_values(y.size(), 77), mv = awkward_values(y.size(), 78);
        xt::xtensor<float, 4> dy = xt::zeros<float>(y.shape()), mask = dy;
        std::copy(gv.begin(), gv.end(), dy.begin());
        std::copy(mv.begin(), mv.end(), mask.begin());
        for (float& g : dy)
            if (std::isnan(g)) g = 2.5f;  // a NaN gradient would make the comparison meaningless
        const std::vector<float> start = awkward_values(x.size(), 79);
        for (kernels::write mode : {kernels::write::overwrite, kernels::write::accumulate})
            for (bool masked : {false, true}) {
                INFO((mode == kernels::write::accumulate ? "accumulate" : "overwrite")
                     << (masked ? ", masked" : ""));
                xt::xtensor<float, 4> dx_flat = xt::zeros<float>({N, C, H, W}), dx_pos = dx_flat;
                std::copy(start.begin(), start.end(), dx_flat.begin());
                std::copy(start.begin(), start.end(), dx_pos.begin());
                if (masked) {
                    max_pool2d_backward(dy, idx, dx_flat, mode, mask);
                    max_pool2d_backward(dy, pos, dx_pos, mode, mask);
                } else {
                    max_pool2d_backward(dy, idx, dx_flat, mode);
                    max_pool2d_backward(dy, pos, dx_pos, mode);
                }
                for (std::size_t k = 0; k < dx_flat.size(); ++k) {
                    INFO("input " << k);
                    const float a = dx_flat.data()[k], b = dx_pos.data()[k];
                    CHECK(std::isnan(a) == std::isnan(b));
                    if (!std::isnan(a)) CHECK(a == b);
                }
            }
    }
    katachi::set_num_threads(saved_threads);
}

TEST_CASE("max_pool2d keeps window positions only for the 2x2 pooling and checks them in the backward",
          "[max_pool2d][errors]") {
    xt::xtensor<float, 4> x = xt::zeros<float>({1, 2, 6, 6}), y3 = xt::zeros<float>({1, 2, 2, 2});
    xt::xtensor<std::uint8_t, 4> pos3 = xt::zeros<std::uint8_t>({1, 2, 2, 2});
    const std::string what = message_of([&] { max_pool2d_forward(x, y3, pos3, {.kernel_size = {3, 3}}); });
    CHECK(what.find("max_pool2d_forward") != std::string::npos);
    CHECK(what.find("3x3") != std::string::npos);
    CHECK(what.find("std::int64_t") != std::string::npos);
    CHECK_THROWS_AS(max_pool2d_forward(x, y3, pos3, {.kernel_size = {3, 3}}), std::invalid_argument);

    xt::xtensor<float, 4> dy = xt::ones<float>({1, 2, 3, 3}), dx = xt::zeros<float>({1, 2, 6, 6});
    xt::xtensor<std::uint8_t, 4> pos = xt::zeros<std::uint8_t>({1, 2, 3, 3});
    pos(0, 1, 2, 1) = 4;
    const std::string bad = message_of([&] { max_pool2d_backward(dy, pos, dx); });
    CHECK(bad.find("above 3") != std::string::npos);
    CHECK_THROWS_AS(max_pool2d_backward(dy, pos, dx), std::out_of_range);
    pos(0, 1, 2, 1) = 3;
    xt::xtensor<float, 4> dx_wrong = xt::zeros<float>({1, 2, 8, 6});
    const std::string shape = message_of([&] { max_pool2d_backward(dy, pos, dx_wrong); });
    CHECK(shape.find("8x6") != std::string::npos);
    CHECK_THROWS_AS(max_pool2d_backward(dy, pos, dx_wrong), shape_mismatch);
    max_pool2d_backward(dy, pos, dx);
    CHECK(dx(0, 1, 5, 3) == 1.0f);  // position 3 of window (2, 1): input (2 * 2 + 1, 2 * 1 + 1)
    CHECK(dx(0, 1, 4, 2) == 0.0f);
    CHECK(dx(0, 0, 0, 0) == 1.0f);  // position 0 of window (0, 0)
}
