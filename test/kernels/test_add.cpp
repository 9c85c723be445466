// add: values, in-place use, the backward against finite differences in float64, none and
// accumulate, and the shape errors.
#include <catch2/catch.hpp>
#include <katachi/kernels/add.hpp>
#include <xtensor/xarray.hpp>

#include "support/gradcheck.hpp"

using namespace katachi;
using namespace katachi::kernels;

TEST_CASE("add_forward sums elementwise, also in place", "[add]") {
    const xt::xarray<double> a = test::random_array({3, 5, 7}, 401), b = test::random_array({3, 5, 7}, 402);
    xt::xarray<double> y = xt::zeros<double>({3, 5, 7});
    add_forward(a, b, y);
    CHECK(xt::allclose(y, a + b, 0.0, 0.0));
    xt::xarray<double> in_place = a;
    add_forward(in_place, b, in_place);
    CHECK(xt::allclose(in_place, y, 0.0, 0.0));
}

TEST_CASE("add backward matches finite differences for both inputs", "[add]") {
    xt::xarray<double> a = test::random_array({4, 3, 5}, 403), b = test::random_array({4, 3, 5}, 404);
    const xt::xarray<double> r = test::random_array({4, 3, 5}, 405);
    xt::xarray<double> y = xt::zeros<double>(a.shape());
    auto loss = [&] {
        add_forward(a, b, y);
        return test::weighted_sum(y, r);
    };
    const xt::xarray<double> numeric_a = test::numeric_gradient(loss, a);
    const xt::xarray<double> numeric_b = test::numeric_gradient(loss, b);
    xt::xarray<double> da = xt::zeros<double>(a.shape()), db = xt::zeros<double>(b.shape());
    add_backward(r, da, db);
    KATACHI_CHECK_GRADIENT(da, numeric_a);
    KATACHI_CHECK_GRADIENT(db, numeric_b);
}

TEST_CASE("add backward skips none and accumulates on request", "[add]") {
    const xt::xarray<float> dy = test::random_array({6, 4}, 406);
    xt::xarray<float> db = xt::zeros<float>({6, 4});
    add_backward(dy, none, db);
    CHECK((db == dy));
    const xt::xarray<float> before = test::random_array({6, 4}, 407);
    xt::xarray<float> da = before;
    add_backward(dy, da, none, write::accumulate);
    CHECK((da == before + dy));
}

TEST_CASE("add rejects tensors of different shapes", "[add][errors]") {
    const xt::xarray<float> a = xt::zeros<float>({2, 3}), b = xt::zeros<float>({3, 2});
    xt::xarray<float> y = xt::zeros<float>({2, 3});
    CHECK_THROWS_AS(add_forward(a, b, y), shape_mismatch);
    CHECK_THROWS_WITH(add_forward(a, b, y),
                      Catch::Contains("add_forward: a has shape [2, 3] but b has shape [3, 2]"));
    xt::xarray<float> y_bad = xt::zeros<float>({6});
    CHECK_THROWS_WITH(add_forward(a, a, y_bad), Catch::Contains("y has shape [6]"));
    xt::xarray<float> db_bad = xt::zeros<float>({3, 2});
    CHECK_THROWS_WITH(add_backward(a, none, db_bad), Catch::Contains("add_backward: db has shape [3, 2]"));
}
