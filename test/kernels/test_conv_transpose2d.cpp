// conv_transpose2d: a direct scatter loop as the reference forward, the adjoint identity with conv2d,
// finite-difference checks of every gradient in float64, PyTorch fixtures in float32, write modes,
// `none` gradients, workspaces and shape errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <katachi/kernels/conv2d.hpp>
#include <katachi/kernels/conv_transpose2d.hpp>
#include <new>
#include <string>
#include <vector>
#include <xtensor/xarray.hpp>

#include "support/allocation_counter.hpp"
#include "support/checks.hpp"
#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"

using namespace katachi;
using namespace katachi::kernels;
using namespace katachi::test;

namespace {

struct transpose_case {
    std::vector<std::size_t> x, w;
    conv_transpose2d_options opts;
};

// Odd sizes, stride 2, dilation 2, groups 2, padding, output_padding (also one that is only allowed
// because it is below the dilation), non-square kernels, 1x1 kernels, and a batch of small images
// that several GEMMs share unevenly (im2col.hpp batches small images).
const std::vector<transpose_case> cases = {
    {{2, 4, 7, 6},
     {4, 3, 3, 2},
     {.stride = {2, 2}, .padding = {1, 0}, .output_padding = {1, 1}, .dilation = {2, 1}, .groups = 2}},
    {{2, 3, 5, 4}, {3, 5, 3, 3}, {.padding = {1, 1}, .output_padding = {1, 1}, .dilation = {2, 2}}},
    {{1, 2, 8, 7}, {2, 2, 2, 3}, {.stride = {2, 3}, .padding = {0, 1}, .output_padding = {1, 2}}},
    {{2, 4, 5, 6}, {4, 3, 1, 1}, {}},
    {{1, 4, 4, 5}, {4, 1, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}, .groups = 4}},
    {{1, 2, 3, 3}, {2, 3, 1, 1}, {.output_padding = {1, 0}, .dilation = {2, 1}}},
    {{25, 2, 3, 4}, {2, 3, 3, 3}, {.padding = {1, 1}}},
};

xt::xarray<double> run_forward(const xt::xarray<double>& x, const xt::xarray<double>& w,
                               const xt::xarray<double>& b, const conv_transpose2d_options& o) {
    xt::xarray<double> y = xt::zeros<double>(dims(conv_transpose2d_output_shape(x.shape(), w.shape(), o)));
    conv_transpose2d_forward(x, w, b, y, o);
    return y;
}

// y[n, g Cog + co, i s - p + ki d, j s - p + kj d] += x[n, ci, i, j] w[ci, co, ki, kj], plus b.
xt::xarray<double> direct_conv_transpose2d(const xt::xarray<double>& x, const xt::xarray<double>& w,
                                           const xt::xarray<double>& b, const conv_transpose2d_options& o) {
    const auto ys = conv_transpose2d_output_shape(x.shape(), w.shape(), o);
    xt::xarray<double> y = xt::zeros<double>(dims(ys));
    const std::size_t cig = x.shape()[1] / o.groups, cog = w.shape()[1];
    for (std::size_t n = 0; n < ys[0]; ++n)
        for (std::size_t oc = 0; oc < ys[1]; ++oc)
            for (std::size_t i = 0; i < ys[2]; ++i)
                for (std::size_t j = 0; j < ys[3]; ++j) y(n, oc, i, j) = b(oc);
    for (std::size_t n = 0; n < x.shape()[0]; ++n)
        for (std::size_t ci = 0; ci < x.shape()[1]; ++ci)
            for (std::size_t i = 0; i < x.shape()[2]; ++i)
                for (std::size_t j = 0; j < x.shape()[3]; ++j)
                    for (std::size_t co = 0; co < cog; ++co)
                        for (std::size_t ki = 0; ki < w.shape()[2]; ++ki)
                            for (std::size_t kj = 0; kj < w.shape()[3]; ++kj) {
                                const auto r =
                                    static_cast<std::ptrdiff_t>(i * o.stride[0] + ki * o.dilation[0]) -
                                    static_cast<std::ptrdiff_t>(o.padding[0]);
                                const auto q =
                                    static_cast<std::ptrdiff_t>(j * o.stride[1] + kj * o.dilation[1]) -
                                    static_cast<std::ptrdiff_t>(o.padding[1]);
                                if (r < 0 || r >= static_cast<std::ptrdiff_t>(ys[2]) || q < 0 ||
                                    q >= static_cast<std::ptrdiff_t>(ys[3]))
                                    continue;
                                y(n, (ci / cig) * cog + co, r, q) += x(n, ci, i, j) * w(ci, co, ki, kj);
                            }
    return y;
}

std::string text(const std::vector<std::size_t>& s) {
    return kernels::detail::extents_text(s);
}

}  // namespace

TEST_CASE("conv_transpose2d forward equals a direct scatter loop in every odd configuration",
          "[conv_transpose2d]") {
    std::uint32_t seed = 10;
    for (const transpose_case& c : cases) {
        INFO("x " << text(c.x) << ", w " << text(c.w));
        const xt::xarray<double> x = random_array(c.x, seed++), w = random_array(c.w, seed++),
                                 b = random_array({c.w[1] * c.opts.groups}, seed++);
        CHECK(max_abs_diff(run_forward(x, w, b, c.opts), direct_conv_transpose2d(x, w, b, c.opts)) < 1e-12);
    }
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d with the same weight", "[conv_transpose2d]") {
    const transpose_case& c = cases[0];
    const xt::xarray<double> x = random_array(c.x, 1), w = random_array(c.w, 2);
    const xt::xarray<double> y = run_forward(x, w, xt::zeros<double>({c.w[1] * c.opts.groups}), c.opts);
    const xt::xarray<double> z = random_array(dims(y.shape()), 3);
    const conv2d_options as_conv{.stride = c.opts.stride,
                                 .padding = c.opts.padding,
                                 .dilation = c.opts.dilation,
                                 .groups = c.opts.groups};
    xt::xarray<double> conv_z = xt::zeros<double>(dims(conv2d_output_shape(z.shape(), w.shape(), as_conv)));
    REQUIRE(conv_z.shape() == x.shape());
    conv2d_forward(z, w, none, conv_z, as_conv);
    const double lhs = xt::sum(y * z)(), rhs = xt::sum(x * conv_z)();
    CHECK(std::abs(lhs - rhs) < 1e-10 * std::max(1.0, std::abs(lhs)));
}

TEST_CASE(
    "conv_transpose2d backward matches finite differences with stride 2, dilation 2, groups 2 and "
    "output_padding",
    "[conv_transpose2d]") {
    std::uint32_t seed = 100;
    for (const transpose_case& c : cases) {
        INFO("x " << text(c.x) << ", w " << text(c.w));
        xt::xarray<double> x = random_array(c.x, seed++), w = random_array(c.w, seed++),
                           b = random_array({c.w[1] * c.opts.groups}, seed++);
        const xt::xarray<double> r =
            random_array(dims(conv_transpose2d_output_shape(x.shape(), w.shape(), c.opts)), seed++);
        auto loss = [&] { return weighted_sum(run_forward(x, w, b, c.opts), r); };
        xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                           db = xt::zeros<double>(b.shape());
        conv_transpose2d_backward(x, w, r, dx, dw, db, c.opts);
        KATACHI_CHECK_GRADIENT(dx, numeric_gradient(loss, x));
        KATACHI_CHECK_GRADIENT(dw, numeric_gradient(loss, w));
        KATACHI_CHECK_GRADIENT(db, numeric_gradient(loss, b));
    }
}

TEST_CASE("conv_transpose2d matches PyTorch in float32: values and the x, w, b gradients",
          "[conv_transpose2d][torch]") {
    const auto file = load_fixture_file("gemm.safetensors");
    const std::vector<std::pair<std::string, conv_transpose2d_options>> torch_cases = {
        {"conv_transpose2d.odd",
         {.stride = {2, 2}, .padding = {1, 0}, .output_padding = {1, 1}, .dilation = {2, 1}, .groups = 2}},
        {"conv_transpose2d.dilated", {.padding = {1, 1}, .output_padding = {1, 1}, .dilation = {2, 2}}},
        {"conv_transpose2d.pointwise", {}},
    };
    for (const auto& [name, o] : torch_cases) {
        INFO(name);
        const auto x = fixture<float>(file, name + ".x"), w = fixture<float>(file, name + ".w"),
                   b = fixture<float>(file, name + ".b"), dy = fixture<float>(file, name + ".dy");
        xt::xarray<float> y = xt::zeros<float>(dims(conv_transpose2d_output_shape(x.shape(), w.shape(), o)));
        conv_transpose2d_forward(x, w, b, y, o);
        require_allclose(y, fixture<float>(file, name + ".y"));
        xt::xarray<float> dx = xt::zeros<float>(x.shape()), dw = xt::zeros<float>(w.shape()),
                          db = xt::zeros<float>(b.shape());
        conv_transpose2d_backward(x, w, dy, dx, dw, db, o);
        require_allclose(dx, fixture<float>(file, name + ".dx"));
        require_allclose(dw, fixture<float>(file, name + ".dw"));
        require_allclose(db, fixture<float>(file, name + ".db"));
    }
}

TEST_CASE("conv_transpose2d backward with write::accumulate adds onto the existing gradients",
          "[conv_transpose2d]") {
    for (const transpose_case& c : cases) {
        INFO("x " << text(c.x) << ", w " << text(c.w));
        const std::vector<std::size_t> b_shape{c.w[1] * c.opts.groups};
        const xt::xarray<double> x = random_array(c.x, 1), w = random_array(c.w, 2),
                                 dy = random_array(dims(conv_transpose2d_output_shape(c.x, c.w, c.opts)), 3);
        xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                           db = xt::zeros<double>(b_shape);
        conv_transpose2d_backward(x, w, dy, dx, dw, db, c.opts);
        xt::xarray<double> ax = random_array(c.x, 4), aw = random_array(c.w, 5),
                           ab = random_array(b_shape, 6);
        const xt::xarray<double> ax0 = ax, aw0 = aw, ab0 = ab;
        conv_transpose2d_backward(x, w, dy, ax, aw, ab, c.opts, {}, write::accumulate);
        CHECK(max_abs_diff(ax, ax0 + dx) < 1e-12);
        CHECK(max_abs_diff(aw, aw0 + dw) < 1e-12);
        CHECK(max_abs_diff(ab, ab0 + db) < 1e-12);
    }
}

TEST_CASE("conv_transpose2d backward leaves out gradients passed as none and computes the others unchanged",
          "[conv_transpose2d]") {
    const transpose_case& c = cases[0];
    const std::vector<std::size_t> b_shape{c.w[1] * c.opts.groups};
    const xt::xarray<double> x = random_array(c.x, 1), w = random_array(c.w, 2),
                             dy = random_array(dims(conv_transpose2d_output_shape(c.x, c.w, c.opts)), 3);
    xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                       db = xt::zeros<double>(b_shape);
    conv_transpose2d_backward(x, w, dy, dx, dw, db, c.opts);
    xt::xarray<double> only_dx = xt::zeros<double>(x.shape()), only_dw = xt::zeros<double>(w.shape()),
                       only_db = xt::zeros<double>(b_shape);
    conv_transpose2d_backward(x, w, dy, only_dx, none, none, c.opts);
    conv_transpose2d_backward(x, w, dy, none, only_dw, none, c.opts);
    conv_transpose2d_backward(x, w, dy, none, none, only_db, c.opts);
    CHECK(max_abs_diff(only_dx, dx) == 0);
    CHECK(max_abs_diff(only_dw, dw) == 0);
    CHECK(max_abs_diff(only_db, db) == 0);
    CHECK(xt::amax(xt::abs(dw))() > 0);
}

TEST_CASE("conv_transpose2d runs in a caller's workspace and rejects a smaller one", "[conv_transpose2d]") {
    const transpose_case& c = cases[0];
    const xt::xarray<double> x = random_array(c.x, 1), w = random_array(c.w, 2), b = random_array({6}, 3);
    const std::size_t size = conv_transpose2d_workspace_size(x.shape(), w.shape(), c.opts);
    CHECK(size >= 3 * 3 * 2 * 7 * 6);  // at least (Cout / groups) kh kw rows by H W columns
    CHECK(conv_transpose2d_workspace_size(cases[3].x, cases[3].w, cases[3].opts) == 0);
    std::vector<double> ws(size, 99.0);
    xt::xarray<double> y = xt::zeros<double>(dims(conv_transpose2d_output_shape(c.x, c.w, c.opts)));
    conv_transpose2d_forward(x, w, b, y, c.opts, ws);
    CHECK(max_abs_diff(y, direct_conv_transpose2d(x, w, b, c.opts)) < 1e-12);
    std::vector<double> small(size / 2);
    const std::string what = message_of([&] { conv_transpose2d_forward(x, w, b, y, c.opts, small); });
    CHECK(what.find("conv_transpose2d") != std::string::npos);
    CHECK_THROWS_AS(conv_transpose2d_forward(x, w, b, y, c.opts, small), shape_mismatch);
}

TEST_CASE("conv_transpose2d rejects a weight of the wrong rank or channel count, naming the kernel",
          "[conv_transpose2d]") {
    const xt::xarray<double> x = xt::zeros<double>({2, 4, 5, 5}), w = xt::zeros<double>({4, 3, 3});
    xt::xarray<double> y = xt::zeros<double>({2, 3, 7, 7});
    CHECK_THROWS_AS(conv_transpose2d_forward(x, w, none, y), shape_mismatch);
    const std::string rank = message_of([&] { conv_transpose2d_forward(x, w, none, y); });
    CHECK(rank.find("conv_transpose2d") != std::string::npos);
    CHECK(rank.find("[4, 3, 3]") != std::string::npos);
    const std::vector<std::size_t> xs{2, 6, 5, 5};
    const std::string groups = message_of([&] {
        conv_transpose2d_output_shape(xs, std::vector<std::size_t>{6, 2, 3, 3}, {.groups = 4});
    });
    CHECK(groups.find("conv_transpose2d") != std::string::npos);
    CHECK(groups.find("not divisible by groups 4") != std::string::npos);
    CHECK_THROWS_AS(conv_transpose2d_output_shape(xs, std::vector<std::size_t>{4, 2, 3, 3}), shape_mismatch);
    CHECK_THROWS_AS(conv_transpose2d_output_shape(xs, std::vector<std::size_t>{6, 2, 3, 3}, {.groups = 0}),
                    shape_mismatch);
}

TEST_CASE("conv_transpose2d rejects output_padding and padding the shared arithmetic forbids",
          "[conv_transpose2d]") {
    const std::vector<std::size_t> xs{1, 2, 4, 4}, ws{2, 3, 3, 3};
    try {
        conv_transpose2d_output_shape(xs, ws, {.stride = {2, 2}, .output_padding = {2, 0}});
        FAIL("no exception");
    } catch (const shape_arithmetic_error& e) {
        CHECK(e.rule() == size_error::output_padding_too_large);
        CHECK(std::string(e.what()).find("conv_transpose2d") != std::string::npos);
    }
    CHECK_THROWS_AS(conv_transpose2d_output_shape(std::vector<std::size_t>{1, 2, 1, 1},
                                                  std::vector<std::size_t>{2, 3, 1, 1}, {.padding = {1, 0}}),
                    shape_arithmetic_error);
}

TEST_CASE("conv_transpose2d forward and backward allocate nothing when given outputs and a workspace",
          "[conv_transpose2d]") {
    for (const transpose_case& c : {cases[0], cases[3], cases[6]}) {  // one GEMM per sample, 1x1, batched
        INFO("x " << text(c.x) << ", w " << text(c.w));
        const xt::xarray<double> x = random_array(c.x, 1), w = random_array(c.w, 2),
                                 b = random_array({c.w[1] * c.opts.groups}, 3);
        xt::xarray<double> y =
            xt::zeros<double>(dims(conv_transpose2d_output_shape(x.shape(), w.shape(), c.opts)));
        xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                           db = xt::zeros<double>(b.shape());
        std::vector<double> ws(conv_transpose2d_workspace_size(x.shape(), w.shape(), c.opts));
        const std::size_t before = katachi::test::allocation_count();
        conv_transpose2d_forward(x, w, b, y, c.opts, ws);
        conv_transpose2d_backward(x, w, y, dx, dw, db, c.opts, ws);
        const std::size_t after = katachi::test::allocation_count();
        CHECK(after == before);
    }
}
