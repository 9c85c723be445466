// concat: values against xtensor's concatenate along every dimension, the backward against finite
// differences in float64, gradients passed as none, the write mode, and the shape errors.
#include <catch2/catch.hpp>
#include <katachi/kernels/concat.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include "support/gradcheck.hpp"

using namespace katachi;
using namespace katachi::kernels;

namespace {

xt::xarray<double> with_extent(std::vector<std::size_t> shape, std::size_t dim, std::size_t extent,
                               std::uint32_t seed) {
    shape[dim] = extent;
    return test::random_array(shape, seed);
}

}  // namespace

TEST_CASE("concat_forward equals xtensor's concatenate along every dimension", "[concat]") {
    for (std::size_t dim = 0; dim < 3; ++dim) {
        const auto a = with_extent({2, 3, 4}, dim, 1, 501);
        const auto b = with_extent({2, 3, 4}, dim, 3, 502);
        const auto c = with_extent({2, 3, 4}, dim, 2, 503);
        const xt::xarray<double> expected = xt::concatenate(xt::xtuple(a, b, c), dim);
        xt::xarray<double> y = xt::zeros<double>(expected.shape());
        concat_forward(dim, y, a, b, c);
        INFO("dim " << dim);
        CHECK(xt::allclose(y, expected, 0.0, 0.0));
    }
}

TEST_CASE("concat backward matches finite differences for every input", "[concat]") {
    xt::xarray<double> a = with_extent({3, 2, 5}, 1, 2, 504), b = with_extent({3, 2, 5}, 1, 1, 505),
                       c = with_extent({3, 2, 5}, 1, 4, 506);
    const xt::xarray<double> r = test::random_array({3, 7, 5}, 507);
    xt::xarray<double> y = xt::zeros<double>({3, 7, 5});
    auto loss = [&] {
        concat_forward(1, y, a, b, c);
        return test::weighted_sum(y, r);
    };
    const xt::xarray<double> na = test::numeric_gradient(loss, a), nb = test::numeric_gradient(loss, b),
                             nc = test::numeric_gradient(loss, c);
    xt::xarray<double> da = xt::zeros<double>(a.shape()), db = xt::zeros<double>(b.shape()),
                       dc = xt::zeros<double>(c.shape());
    concat_backward(1, r, da, db, dc);
    KATACHI_CHECK_GRADIENT(da, na);
    KATACHI_CHECK_GRADIENT(db, nb);
    KATACHI_CHECK_GRADIENT(dc, nc);
}

TEST_CASE("concat backward places gradients around none parts and accumulates on request", "[concat]") {
    const xt::xarray<double> dy = test::random_array({2, 9, 3}, 508);
    const auto part = [&](std::size_t from, std::size_t to) {
        return xt::xarray<double>(xt::view(dy, xt::all(), xt::range(from, to), xt::all()));
    };
    xt::xarray<double> d0 = xt::zeros<double>({2, 2, 3}), d1 = xt::zeros<double>({2, 3, 3}),
                       d2 = xt::zeros<double>({2, 4, 3});
    concat_backward(1, dy, d0, none, d2);  // one none in the middle: its size is what is left
    CHECK((d0 == part(0, 2)));
    CHECK((d2 == part(5, 9)));
    d1.fill(0);
    concat_backward(1, dy, none, d1, d2);
    CHECK((d1 == part(2, 5)));
    concat_backward(1, dy, d0, d1, none);
    CHECK((d1 == part(2, 5)));
    const xt::xarray<double> before = test::random_array({2, 3, 3}, 509);
    d1 = before;
    concat_backward(1, dy, d0, d1, d2, write::accumulate);
    CHECK(xt::allclose(d1, before + part(2, 5), 0.0, 1e-15));
    d1 = before;
    concat_backward(1, dy, none, d1, d2, write::accumulate);
    CHECK(xt::allclose(d1, before + part(2, 5), 0.0, 1e-15));
}

TEST_CASE("concat backward refuses a gradient whose place the none parts hide", "[concat][errors]") {
    const xt::xarray<float> dy = xt::zeros<float>({2, 9});
    xt::xarray<float> d1 = xt::zeros<float>({2, 3});
    CHECK_THROWS_WITH(concat_backward(1, dy, none, d1, none), Catch::Contains("dxs[1] lies between"));
}

TEST_CASE("concat rejects mismatched ranks and sizes, wrong totals and a dimension out of range",
          "[concat][errors]") {
    const xt::xarray<float> a = xt::zeros<float>({2, 3, 4}), b = xt::zeros<float>({2, 5, 4});
    xt::xarray<float> y = xt::zeros<float>({2, 8, 4});
    const xt::xarray<float> rank2 = xt::zeros<float>({2, 3});
    CHECK_THROWS_WITH(concat_forward(1, y, a, rank2),
                      Catch::Contains("concat_forward: xs[1] has shape [2, 3] but y has shape [2, 8, 4]"));
    const xt::xarray<float> other = xt::zeros<float>({2, 5, 3});
    CHECK_THROWS_WITH(concat_forward(1, y, a, other),
                      Catch::Contains("all sizes but dimension 1 must be equal"));
    CHECK_THROWS_WITH(concat_forward(1, y, a, a), Catch::Contains("add up to 6 but y has shape [2, 8, 4]"));
    CHECK_THROWS_AS(concat_forward(3, y, a, b), std::out_of_range);
    xt::xarray<float> da = xt::zeros<float>({2, 3, 4});
    CHECK_THROWS_WITH(concat_backward(1, y, da, da),
                      Catch::Contains("concat_backward") && Catch::Contains("add up to 6"));
    xt::xarray<float> big = xt::zeros<float>({2, 9, 4});
    CHECK_THROWS_AS(concat_backward(1, y, big, none), shape_mismatch);
    concat_forward(1, y, a, b);
    CHECK((y == xt::zeros<float>({2, 8, 4})));
}
