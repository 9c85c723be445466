// linear: a direct loop as the reference forward, finite-difference checks of every gradient in
// float64, PyTorch fixtures in float32, write modes, `none` gradients and shape errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <katachi/kernels/linear.hpp>
#include <new>
#include <string>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "support/allocation_counter.hpp"
#include "support/checks.hpp"
#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"

using namespace katachi;
using namespace katachi::kernels;
using namespace katachi::test;

namespace {

xt::xarray<double> run_forward(const xt::xarray<double>& x, const xt::xarray<double>& w,
                               const xt::xarray<double>& b) {
    xt::xarray<double> y = xt::zeros<double>({x.shape()[0], w.shape()[0]});
    linear_forward(x, w, b, y);
    return y;
}

// (batch, in, out): odd sizes, a single sample, and a single output.
const std::vector<std::array<std::size_t, 3>> sizes = {{5, 7, 3}, {1, 17, 15}, {4, 33, 1}, {3, 1, 4}};

}  // namespace

TEST_CASE("linear forward equals x w^T + b computed by a direct loop", "[linear]") {
    std::uint32_t seed = 1;
    for (const auto& [n, in, out] : sizes) {
        const xt::xarray<double> x = random_array({n, in}, seed++), w = random_array({out, in}, seed++),
                                 b = random_array({out}, seed++);
        xt::xarray<double> expected = xt::zeros<double>({n, out});
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t o = 0; o < out; ++o) {
                double s = b(o);
                for (std::size_t k = 0; k < in; ++k) s += x(i, k) * w(o, k);
                expected(i, o) = s;
            }
        CHECK(max_abs_diff(run_forward(x, w, b), expected) < 1e-12);
        xt::xarray<double> y = xt::ones<double>({n, out});
        linear_forward(x, w, none, y);
        CHECK(max_abs_diff(y + b, expected) < 1e-12);
    }
}

TEST_CASE("linear backward matches finite differences for x, w and b", "[linear]") {
    std::uint32_t seed = 50;
    for (const auto& [n, in, out] : sizes) {
        INFO("batch " << n << ", in " << in << ", out " << out);
        xt::xarray<double> x = random_array({n, in}, seed++), w = random_array({out, in}, seed++),
                           b = random_array({out}, seed++);
        const xt::xarray<double> r = random_array({n, out}, seed++);
        auto loss = [&] { return weighted_sum(run_forward(x, w, b), r); };
        xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                           db = xt::zeros<double>(b.shape());
        linear_backward(x, w, r, dx, dw, db);
        KATACHI_CHECK_GRADIENT(dx, numeric_gradient(loss, x));
        KATACHI_CHECK_GRADIENT(dw, numeric_gradient(loss, w));
        KATACHI_CHECK_GRADIENT(db, numeric_gradient(loss, b));
    }
}

TEST_CASE("linear matches PyTorch in float32: values and the x, w, b gradients", "[linear][torch]") {
    const auto file = load_fixture_file("gemm.safetensors");
    for (const std::string name : {"linear.small", "linear.odd"}) {
        INFO(name);
        const auto x = fixture<float>(file, name + ".x"), w = fixture<float>(file, name + ".w"),
                   b = fixture<float>(file, name + ".b"), dy = fixture<float>(file, name + ".dy");
        xt::xarray<float> y = xt::zeros<float>({x.shape()[0], w.shape()[0]});
        linear_forward(x, w, b, y);
        require_allclose(y, fixture<float>(file, name + ".y"));
        xt::xarray<float> dx = xt::zeros<float>(x.shape()), dw = xt::zeros<float>(w.shape()),
                          db = xt::zeros<float>(b.shape());
        linear_backward(x, w, dy, dx, dw, db);
        require_allclose(dx, fixture<float>(file, name + ".dx"));
        require_allclose(dw, fixture<float>(file, name + ".dw"));
        require_allclose(db, fixture<float>(file, name + ".db"));
    }
}

TEST_CASE("linear backward with write::accumulate adds onto the existing gradients", "[linear]") {
    const xt::xarray<double> x = random_array({5, 7}, 1), w = random_array({3, 7}, 2),
                             dy = random_array({5, 3}, 3);
    xt::xarray<double> dx = xt::zeros<double>({5, 7}), dw = xt::zeros<double>({3, 7}),
                       db = xt::zeros<double>({3});
    linear_backward(x, w, dy, dx, dw, db);
    xt::xarray<double> ax = random_array({5, 7}, 4), aw = random_array({3, 7}, 5), ab = random_array({3}, 6);
    const xt::xarray<double> ax0 = ax, aw0 = aw, ab0 = ab;
    linear_backward(x, w, dy, ax, aw, ab, write::accumulate);
    CHECK(max_abs_diff(ax, ax0 + dx) < 1e-12);
    CHECK(max_abs_diff(aw, aw0 + dw) < 1e-12);
    CHECK(max_abs_diff(ab, ab0 + db) < 1e-12);
}

TEST_CASE("linear backward leaves out gradients passed as none and computes the others unchanged",
          "[linear]") {
    const xt::xarray<double> x = random_array({5, 7}, 1), w = random_array({3, 7}, 2),
                             dy = random_array({5, 3}, 3);
    xt::xarray<double> dx = xt::zeros<double>({5, 7}), dw = xt::zeros<double>({3, 7}),
                       db = xt::zeros<double>({3});
    linear_backward(x, w, dy, dx, dw, db);
    xt::xarray<double> only_dx = xt::zeros<double>({5, 7}), only_dw = xt::zeros<double>({3, 7}),
                       only_db = xt::zeros<double>({3});
    linear_backward(x, w, dy, only_dx, none, none);
    linear_backward(x, w, dy, none, only_dw, none);
    linear_backward(x, w, dy, none, none, only_db);
    CHECK(max_abs_diff(only_dx, dx) == 0);
    CHECK(max_abs_diff(only_dw, dw) == 0);
    CHECK(max_abs_diff(only_db, db) == 0);
    CHECK(xt::amax(xt::abs(dw))() > 0);
}

TEST_CASE("linear writes into adaptors over caller memory and into a leading range of a batch", "[linear]") {
    const xt::xarray<float> x = xt::cast<float>(random_array({6, 4}, 7));
    const xt::xarray<float> w = xt::cast<float>(random_array({3, 4}, 8));
    std::vector<float> out(6 * 3);
    auto y = xt::adapt(out, std::vector<std::size_t>{6, 3});
    linear_forward(x, w, none, y);
    xt::xtensor<float, 2> part = xt::zeros<float>({4, 3});
    linear_forward(xt::view(x, xt::range(0, 4), xt::all()), w, none, part);
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 3; ++j) CHECK(part(i, j) == out[i * 3 + j]);
}

TEST_CASE("linear rejects shapes that do not fit, naming the kernel and both shapes", "[linear]") {
    const xt::xarray<double> x = xt::zeros<double>({4, 7}), w = xt::zeros<double>({3, 6}),
                             good_w = xt::zeros<double>({3, 7}), b = xt::zeros<double>({4});
    xt::xarray<double> y = xt::zeros<double>({4, 3});
    const std::string what = message_of([&] { linear_forward(x, w, none, y); });
    CHECK(what.find("linear") != std::string::npos);
    CHECK(what.find("[3, 6]") != std::string::npos);
    CHECK(what.find("[3, 7]") != std::string::npos);
    CHECK_THROWS_AS(linear_forward(x, w, none, y), shape_mismatch);
    CHECK_THROWS_AS(linear_forward(x, good_w, b, y), shape_mismatch);
    const xt::xarray<double> rank3_w = xt::zeros<double>({3, 7, 1});
    CHECK_THROWS_AS(linear_forward(x, rank3_w, none, y), shape_mismatch);
    xt::xarray<double> wrong_y = xt::zeros<double>({4, 4});
    CHECK_THROWS_AS(linear_forward(x, good_w, none, wrong_y), shape_mismatch);
    xt::xarray<double> wrong_dx = xt::zeros<double>({4, 6});
    CHECK_THROWS_AS(linear_backward(x, good_w, y, wrong_dx, none, none), shape_mismatch);
    CHECK_THROWS_AS(linear_backward(x, good_w, wrong_y, none, none, none), shape_mismatch);
}

TEST_CASE("linear forward and backward allocate nothing", "[linear]") {
    const xt::xarray<float> x = xt::cast<float>(random_array({5, 33}, 1)),
                            w = xt::cast<float>(random_array({17, 33}, 2)),
                            b = xt::cast<float>(random_array({17}, 3));
    xt::xarray<float> y = xt::zeros<float>({5, 17}), dx = xt::zeros<float>({5, 33}),
                      dw = xt::zeros<float>({17, 33}), db = xt::zeros<float>({17});
    const std::size_t before = katachi::test::allocation_count();
    linear_forward(x, w, b, y);
    linear_backward(x, w, y, dx, dw, db);
    linear_backward(x, w, y, dx, dw, db, write::accumulate);
    const std::size_t after = katachi::test::allocation_count();
    CHECK(after == before);
    const xt::xarray<float> copy = y;  // the counter does see allocations
    CHECK(katachi::test::allocation_count() > after);
}
