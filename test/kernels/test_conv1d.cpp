// conv1d: a direct loop as the reference forward, finite-difference checks of every gradient in
// float64, PyTorch fixtures in float32, write modes, `none` gradients, workspaces and shape errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <katachi/kernels/conv1d.hpp>
#include <string>
#include <vector>
#include <xtensor/xarray.hpp>

#include "support/checks.hpp"
#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"

using namespace katachi;
using namespace katachi::kernels;
using namespace katachi::test;

namespace {

struct conv1d_case {
    std::vector<std::size_t> x, w;
    conv1d_options opts;
};

// Length 17 and 15 inputs, stride 2, dilation 2, groups 2, padding, depthwise, 1x1 kernels, and a
// batch of short signals that several GEMMs share unevenly (im2col.hpp batches small images).
const std::vector<conv1d_case> cases = {
    {{2, 4, 17}, {6, 2, 3}, {.stride = 2, .padding = 1, .dilation = 2, .groups = 2}},
    {{3, 3, 15}, {4, 3, 5}, {.padding = 2}},
    {{2, 4, 15}, {4, 1, 4}, {.stride = 3, .padding = 3, .groups = 4}},
    {{2, 4, 9}, {6, 2, 1}, {.groups = 2}},
    {{1, 2, 6}, {3, 2, 2}, {.padding = 4, .dilation = 3}},
    {{40, 2, 9}, {3, 2, 3}, {.padding = 1}},
};

xt::xarray<double> run_forward(const xt::xarray<double>& x, const xt::xarray<double>& w,
                               const xt::xarray<double>& b, const conv1d_options& o) {
    xt::xarray<double> y = xt::zeros<double>(dims(conv1d_output_shape(x.shape(), w.shape(), o)));
    conv1d_forward(x, w, b, y, o);
    return y;
}

// y[n, o, i] = b[o] + sum over c, k of x[n, g Cg + c, i s - p + k d] w[o, c, k].
xt::xarray<double> direct_conv1d(const xt::xarray<double>& x, const xt::xarray<double>& w,
                                 const xt::xarray<double>& b, const conv1d_options& o) {
    const auto ys = conv1d_output_shape(x.shape(), w.shape(), o);
    xt::xarray<double> y = xt::zeros<double>(dims(ys));
    const std::size_t cg = w.shape()[1], og = w.shape()[0] / o.groups;
    for (std::size_t n = 0; n < ys[0]; ++n)
        for (std::size_t oc = 0; oc < ys[1]; ++oc)
            for (std::size_t i = 0; i < ys[2]; ++i) {
                double s = b(oc);
                for (std::size_t c = 0; c < cg; ++c)
                    for (std::size_t k = 0; k < w.shape()[2]; ++k) {
                        const auto at = static_cast<std::ptrdiff_t>(i * o.stride + k * o.dilation) -
                                        static_cast<std::ptrdiff_t>(o.padding);
                        if (at < 0 || at >= static_cast<std::ptrdiff_t>(x.shape()[2])) continue;
                        s += x(n, (oc / og) * cg + c, at) * w(oc, c, k);
                    }
                y(n, oc, i) = s;
            }
    return y;
}

}  // namespace

TEST_CASE("conv1d forward equals a direct loop over the taps in every odd configuration", "[conv1d]") {
    std::uint32_t seed = 10;
    for (const conv1d_case& c : cases) {
        INFO("x " << kernels::detail::extents_text(c.x) << ", w " << kernels::detail::extents_text(c.w));
        const xt::xarray<double> x = random_array(c.x, seed++), w = random_array(c.w, seed++),
                                 b = random_array({c.w[0]}, seed++);
        CHECK(max_abs_diff(run_forward(x, w, b, c.opts), direct_conv1d(x, w, b, c.opts)) < 1e-12);
    }
}

TEST_CASE("conv1d backward matches finite differences with stride 2, dilation 2, groups 2 and padding",
          "[conv1d]") {
    std::uint32_t seed = 100;
    for (const conv1d_case& c : cases) {
        INFO("x " << kernels::detail::extents_text(c.x) << ", w " << kernels::detail::extents_text(c.w));
        xt::xarray<double> x = random_array(c.x, seed++), w = random_array(c.w, seed++),
                           b = random_array({c.w[0]}, seed++);
        const xt::xarray<double> r =
            random_array(dims(conv1d_output_shape(x.shape(), w.shape(), c.opts)), seed++);
        auto loss = [&] { return weighted_sum(run_forward(x, w, b, c.opts), r); };
        xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                           db = xt::zeros<double>(b.shape());
        conv1d_backward(x, w, r, dx, dw, db, c.opts);
        KATACHI_CHECK_GRADIENT(dx, numeric_gradient(loss, x));
        KATACHI_CHECK_GRADIENT(dw, numeric_gradient(loss, w));
        KATACHI_CHECK_GRADIENT(db, numeric_gradient(loss, b));
    }
}

TEST_CASE("conv1d matches PyTorch in float32: values and the x, w, b gradients", "[conv1d][torch]") {
    const auto file = load_fixture_file("gemm.safetensors");
    const std::vector<std::pair<std::string, conv1d_options>> torch_cases = {
        {"conv1d.odd", {.stride = 2, .padding = 1, .dilation = 2, .groups = 2}},
        {"conv1d.wide", {.padding = 2}},
    };
    for (const auto& [name, o] : torch_cases) {
        INFO(name);
        const auto x = fixture<float>(file, name + ".x"), w = fixture<float>(file, name + ".w"),
                   b = fixture<float>(file, name + ".b"), dy = fixture<float>(file, name + ".dy");
        xt::xarray<float> y = xt::zeros<float>(dims(conv1d_output_shape(x.shape(), w.shape(), o)));
        conv1d_forward(x, w, b, y, o);
        require_allclose(y, fixture<float>(file, name + ".y"));
        xt::xarray<float> dx = xt::zeros<float>(x.shape()), dw = xt::zeros<float>(w.shape()),
                          db = xt::zeros<float>(b.shape());
        conv1d_backward(x, w, dy, dx, dw, db, o);
        require_allclose(dx, fixture<float>(file, name + ".dx"));
        require_allclose(dw, fixture<float>(file, name + ".dw"));
        require_allclose(db, fixture<float>(file, name + ".db"));
    }
}

TEST_CASE("conv1d backward with write::accumulate adds onto the existing gradients", "[conv1d]") {
    for (const conv1d_case& c : cases) {
        const xt::xarray<double> x = random_array(c.x, 1), w = random_array(c.w, 2),
                                 dy =
                                     random_array(dims(conv1d_output_shape(x.shape(), w.shape(), c.opts)), 3);
        xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                           db = xt::zeros<double>({c.w[0]});
        conv1d_backward(x, w, dy, dx, dw, db, c.opts);
        xt::xarray<double> ax = random_array(c.x, 4), aw = random_array(c.w, 5),
                           ab = random_array({c.w[0]}, 6);
        const xt::xarray<double> ax0 = ax, aw0 = aw, ab0 = ab;
        conv1d_backward(x, w, dy, ax, aw, ab, c.opts, {}, write::accumulate);
        CHECK(max_abs_diff(ax, ax0 + dx) < 1e-12);
        CHECK(max_abs_diff(aw, aw0 + dw) < 1e-12);
        CHECK(max_abs_diff(ab, ab0 + db) < 1e-12);
    }
}

TEST_CASE("conv1d backward leaves out gradients passed as none and computes the others unchanged",
          "[conv1d]") {
    const conv1d_case& c = cases[0];
    const xt::xarray<double> x = random_array(c.x, 1), w = random_array(c.w, 2),
                             dy = random_array(dims(conv1d_output_shape(x.shape(), w.shape(), c.opts)), 3);
    xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                       db = xt::zeros<double>({c.w[0]});
    conv1d_backward(x, w, dy, dx, dw, db, c.opts);
    xt::xarray<double> only_dx = xt::zeros<double>(x.shape()), only_dw = xt::zeros<double>(w.shape()),
                       only_db = xt::zeros<double>({c.w[0]});
    conv1d_backward(x, w, dy, only_dx, none, none, c.opts);
    conv1d_backward(x, w, dy, none, only_dw, none, c.opts);
    conv1d_backward(x, w, dy, none, none, only_db, c.opts);
    CHECK(max_abs_diff(only_dx, dx) == 0);
    CHECK(max_abs_diff(only_dw, dw) == 0);
    // With dw, db comes out of dw's GEMM; alone it is a plain sum: the same value up to rounding.
    CHECK(max_abs_diff(only_db, db) < 1e-12);
    CHECK(xt::amax(xt::abs(dx))() > 0);
}

TEST_CASE("conv1d runs in a caller's workspace of conv1d_workspace_size elements and rejects a smaller one",
          "[conv1d]") {
    const conv1d_case& c = cases[0];
    const xt::xarray<double> x = random_array(c.x, 1), w = random_array(c.w, 2),
                             b = random_array({c.w[0]}, 3);
    const auto ys = conv1d_output_shape(x.shape(), w.shape(), c.opts);
    const std::size_t size = conv1d_workspace_size(x.shape(), w.shape(), c.opts);
    CHECK(size >= 2 * 3 * ys[2]);  // at least (C / groups) k rows by Lo columns
    CHECK(conv1d_workspace_size(cases[3].x, cases[3].w, cases[3].opts) == 0);
    std::vector<double> ws(size, -7.0);
    xt::xarray<double> y = xt::zeros<double>(dims(ys));
    conv1d_forward(x, w, b, y, c.opts, ws);
    CHECK(max_abs_diff(y, direct_conv1d(x, w, b, c.opts)) < 1e-12);
    std::vector<double> small(size - 1);
    CHECK_THROWS_AS(conv1d_forward(x, w, b, y, c.opts, small), shape_mismatch);
    CHECK(message_of([&] { conv1d_backward(x, w, y, none, none, none, c.opts, small); }) == "no exception");
    xt::xarray<double> db = xt::zeros<double>({c.w[0]});
    CHECK(message_of([&] { conv1d_backward(x, w, y, none, none, db, c.opts, small); }) == "no exception");
    xt::xarray<double> dx = xt::zeros<double>(x.shape());
    CHECK(message_of([&] { conv1d_backward(x, w, y, dx, none, none, c.opts, small); }).find("conv1d") !=
          std::string::npos);
}

TEST_CASE("conv1d rejects a weight of the wrong rank, naming the kernel and the shape", "[conv1d]") {
    const xt::xarray<double> x = xt::zeros<double>({2, 4, 8}), w = xt::zeros<double>({6, 4, 3, 1});
    xt::xarray<double> y = xt::zeros<double>({2, 6, 6});
    CHECK_THROWS_AS(conv1d_forward(x, w, none, y), shape_mismatch);
    const std::string what = message_of([&] { conv1d_forward(x, w, none, y); });
    CHECK(what.find("conv1d") != std::string::npos);
    CHECK(what.find("[6, 4, 3, 1]") != std::string::npos);
    CHECK_THROWS_AS(conv1d_output_shape(std::vector<std::size_t>{2, 4, 8}, std::vector<std::size_t>{6, 4}),
                    shape_mismatch);
}

TEST_CASE("conv1d rejects channels that groups does not divide", "[conv1d]") {
    const std::vector<std::size_t> x{2, 6, 8};
    const std::string what = message_of([&] {
        conv1d_output_shape(x, std::vector<std::size_t>{4, 2, 3}, {.groups = 4});
    });
    CHECK(what.find("conv1d") != std::string::npos);
    CHECK(what.find("not divisible by groups 4") != std::string::npos);
    CHECK_THROWS_AS(conv1d_output_shape(x, std::vector<std::size_t>{4, 2, 3}, {.groups = 4}), shape_mismatch);
    CHECK_THROWS_AS(conv1d_output_shape(x, std::vector<std::size_t>{3, 3, 3}, {.groups = 2}), shape_mismatch);
    CHECK_THROWS_AS(conv1d_output_shape(x, std::vector<std::size_t>{4, 2, 3}, {.groups = 2}), shape_mismatch);
}

TEST_CASE("conv1d rejects a kernel larger than the padded input with the shared arithmetic error",
          "[conv1d]") {
    try {
        conv1d_output_shape(std::vector<std::size_t>{1, 2, 6}, std::vector<std::size_t>{3, 2, 4},
                            {.padding = 0, .dilation = 2});
        FAIL("no exception");
    } catch (const shape_arithmetic_error& e) {
        CHECK(e.rule() == size_error::kernel_larger_than_input);
        CHECK(std::string(e.what()).find("conv1d") != std::string::npos);
    }
    const xt::xarray<double> x = xt::zeros<double>({1, 2, 2}), w = xt::zeros<double>({3, 2, 5});
    xt::xarray<double> y = xt::zeros<double>({1, 3, 1});
    CHECK_THROWS_AS(conv1d_forward(x, w, none, y, {.padding = 1}), shape_arithmetic_error);
}
