// flatten: PyTorch's shape rule (negative dimensions, rank 0, errors), views that alias memory with
// -1 inference, and the backward (the reshape back) against finite differences in float64.
#include <catch2/catch.hpp>
#include <katachi/kernels/flatten.hpp>
#include <numeric>
#include <type_traits>
#include <vector>
#include <xtensor/xarray.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xtensor.hpp>

#include "support/gradcheck.hpp"

using namespace katachi;
using namespace katachi::kernels;
using dims = std::vector<std::size_t>;

TEST_CASE("flatten_shape merges start_dim..end_dim and keeps the batch by default", "[flatten]") {
    CHECK(flatten_shape({2, 3, 4, 5}) == dims{2, 3 * 4 * 5});
    CHECK(flatten_shape({2, 3, 4, 5}, 0) == dims{2 * 3 * 4 * 5});
    CHECK(flatten_shape({2, 3, 4, 5}, 1, 2) == dims{2, 3 * 4, 5});
    CHECK(flatten_shape({2, 3, 4, 5}, -3, -2) == dims{2, 3 * 4, 5});
    CHECK(flatten_shape({2, 3, 4, 5}, 2, 2) == dims{2, 3, 4, 5});
    CHECK(flatten_shape({7, 0, 3}) == dims{7, 0});
    CHECK(flatten_shape(dims{6}, 0) == dims{6});
    const xt::xtensor<float, 4> x = xt::zeros<float>({2, 64, 7, 7});
    CHECK(flatten_shape(x.shape()) == dims{2, 64 * 7 * 7});
}

TEST_CASE("flatten_shape of a rank-0 shape is [1], as in PyTorch", "[flatten]") {
    CHECK(flatten_shape(dims{}, 0) == dims{1});
    CHECK(flatten_shape(dims{}, -1, 0) == dims{1});
}

TEST_CASE("flatten_shape rejects dimensions out of range and start_dim after end_dim", "[flatten][errors]") {
    CHECK_THROWS_AS(flatten_shape({5}), std::out_of_range);  // start_dim 1 of a rank-1 shape
    CHECK_THROWS_WITH(flatten_shape({2, 3, 4}, 0, 3),
                      Catch::Contains("dimension 3 is out of range for rank 3"));
    CHECK_THROWS_AS(flatten_shape({2, 3, 4}, -4), std::out_of_range);
    CHECK_THROWS_WITH(flatten_shape({2, 3, 4}, 2, 1), Catch::Contains("start_dim 2 comes after end_dim 1"));
    CHECK_THROWS_AS(flatten_shape({2, 3, 4}, -1, -2), std::invalid_argument);
}

TEST_CASE("reshape_view aliases the tensor's memory and infers one -1", "[flatten]") {
    xt::xarray<double> x = xt::zeros<double>({2, 3, 4});
    std::iota(x.begin(), x.end(), 0.0);
    auto v = reshape_view(x, {-1, 4});
    // Argument-dependent lookup also finds xt::reshape_view; the unqualified call must pick katachi's.
    static_assert(std::is_same_v<decltype(v), decltype(kernels::reshape_view(x, {-1, 4}))>);
    static_assert(std::is_same_v<decltype(reshape_view(x, dims{4, 6})),
                                 decltype(kernels::reshape_view(x, dims{4, 6}))>);
    REQUIRE(v.dimension() == 2);
    CHECK(v.shape()[0] == 6);
    CHECK(v.shape()[1] == 4);
    CHECK(v.data() == x.data());
    CHECK(v(5, 3) == x(1, 2, 3));
    v(4, 1) = -7.0;
    CHECK(x(1, 1, 1) == -7.0);
    auto w = reshape_view(x, dims{4, 6});
    CHECK(w(3, 5) == x(1, 2, 3));
    const xt::xarray<double>& cx = x;
    auto c = reshape_view(cx, {24});
    CHECK(c(23) == x(1, 2, 3));
    auto f = flatten_view(x);
    CHECK(f.shape()[1] == 12);
    CHECK(f(1, 7) == x(1, 1, 3));
}

TEST_CASE("reshape_view rejects other element counts, two -1, other negatives and strided views",
          "[flatten][errors]") {
    xt::xarray<float> x = xt::zeros<float>({2, 3, 4});
    CHECK_THROWS_WITH(reshape_view(x, {5, 5}),
                      Catch::Contains("reshape_view: cannot view x of shape [2, 3, 4] "
                                      "(24 elements) as [5, 5]"));
    CHECK_THROWS_WITH(reshape_view(x, {-1, -1}), Catch::Contains("only one size may be -1"));
    CHECK_THROWS_WITH(reshape_view(x, {-1, 5}), Catch::Contains("no size for -1"));
    CHECK_THROWS_WITH(reshape_view(x, {-2, 12}), Catch::Contains("negative size other than -1"));
    auto t = xt::transpose(x);
    CHECK_THROWS_WITH(reshape_view(t, {24}), Catch::Contains("not row-major contiguous"));
}

TEST_CASE("flatten backward, the reshape back, matches finite differences", "[flatten]") {
    xt::xarray<double> x = test::random_array({3, 2, 5, 3}, 301);
    const auto flat = flatten_shape(x.shape());
    const xt::xarray<double> r = test::random_array(flat, 302);
    auto loss = [&] { return test::weighted_sum(flatten_view(x), r); };
    const xt::xarray<double> numeric = test::numeric_gradient(loss, x);
    xt::xarray<double> dy = r;
    const xt::xarray<double> dx = reshape_view(dy, x.shape());
    REQUIRE(dx.shape() == x.shape());
    KATACHI_CHECK_GRADIENT(dx, numeric);
}
