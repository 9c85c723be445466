// conv2d: a direct loop as the reference forward, finite-difference checks of every gradient in
// float64, PyTorch fixtures in float32, write modes, `none` gradients, workspaces and shape errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <katachi/kernels/conv2d.hpp>
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

struct conv2d_case {
    std::vector<std::size_t> x, w;
    conv2d_options opts;
};

// The odd configurations every test runs: 17x15 inputs, stride 2, dilation 2, groups 2, padding,
// non-square kernels, a depthwise conv, 1x1 kernels with and without the im2col-free path, and a
// batch of small images that several GEMMs share unevenly (im2col.hpp batches small images).
const std::vector<conv2d_case> cases = {
    {{2, 4, 17, 15}, {6, 2, 3, 2}, {.stride = {2, 1}, .padding = {1, 2}, .dilation = {2, 1}, .groups = 2}},
    {{2, 3, 17, 15}, {5, 3, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}, .dilation = {2, 2}}},
    {{1, 4, 9, 8}, {4, 1, 3, 3}, {.padding = {1, 1}, .groups = 4}},
    {{2, 4, 6, 5}, {6, 2, 1, 1}, {.groups = 2}},
    {{2, 4, 7, 6}, {3, 4, 1, 1}, {.stride = {2, 2}}},
    {{1, 2, 5, 4}, {3, 2, 2, 3}, {.padding = {3, 2}}},
    {{11, 2, 6, 5}, {4, 1, 3, 3}, {.padding = {2, 2}, .dilation = {2, 2}, .groups = 2}},
};

xt::xarray<double> run_forward(const xt::xarray<double>& x, const xt::xarray<double>& w,
                               const xt::xarray<double>& b, const conv2d_options& o) {
    xt::xarray<double> y = xt::zeros<double>(dims(conv2d_output_shape(x.shape(), w.shape(), o)));
    conv2d_forward(x, w, b, y, o);
    return y;
}

// y[n, o, i, j] = b[o] + sum over c, ki, kj of x[n, g Cg + c, i s - p + ki d, j s - p + kj d] w[o, c, ki,
// kj].
xt::xarray<double> direct_conv2d(const xt::xarray<double>& x, const xt::xarray<double>& w,
                                 const xt::xarray<double>& b, const conv2d_options& o) {
    const auto ys = conv2d_output_shape(x.shape(), w.shape(), o);
    xt::xarray<double> y = xt::zeros<double>(dims(ys));
    const std::size_t cg = w.shape()[1], og = w.shape()[0] / o.groups;
    const auto h = static_cast<std::ptrdiff_t>(x.shape()[2]), wd = static_cast<std::ptrdiff_t>(x.shape()[3]);
    for (std::size_t n = 0; n < ys[0]; ++n)
        for (std::size_t oc = 0; oc < ys[1]; ++oc)
            for (std::size_t i = 0; i < ys[2]; ++i)
                for (std::size_t j = 0; j < ys[3]; ++j) {
                    double s = b(oc);
                    for (std::size_t c = 0; c < cg; ++c)
                        for (std::size_t ki = 0; ki < w.shape()[2]; ++ki)
                            for (std::size_t kj = 0; kj < w.shape()[3]; ++kj) {
                                const auto r =
                                    static_cast<std::ptrdiff_t>(i * o.stride[0] + ki * o.dilation[0]) -
                                    static_cast<std::ptrdiff_t>(o.padding[0]);
                                const auto q =
                                    static_cast<std::ptrdiff_t>(j * o.stride[1] + kj * o.dilation[1]) -
                                    static_cast<std::ptrdiff_t>(o.padding[1]);
                                if (r < 0 || r >= h || q < 0 || q >= wd) continue;
                                s += x(n, (oc / og) * cg + c, r, q) * w(oc, c, ki, kj);
                            }
                    y(n, oc, i, j) = s;
                }
    return y;
}

}  // namespace

TEST_CASE("conv2d forward equals a direct loop over the taps in every odd configuration", "[conv2d]") {
    std::uint32_t seed = 10;
    for (const conv2d_case& c : cases) {
        INFO("x " << kernels::detail::extents_text(c.x) << ", w " << kernels::detail::extents_text(c.w));
        const xt::xarray<double> x = random_array(c.x, seed++), w = random_array(c.w, seed++),
                                 b = random_array({c.w[0]}, seed++);
        CHECK(max_abs_diff(run_forward(x, w, b, c.opts), direct_conv2d(x, w, b, c.opts)) < 1e-12);
    }
}

TEST_CASE(
    "conv2d in float with small patches (on fma_block where the processor has AVX2) equals the direct loop, "
    "with and without bias, overwriting and accumulating",
    "[conv2d]") {
    // Patches of 9, 27 and 18 (groups 2) elements, outputs of 784, 64, 48 and 35 positions (not whole
    // vectors of 8: the rows' last columns masked); LeNet's second convolution at batch 1 (patch 288)
    // stays on OpenBLAS.
    const std::vector<conv2d_case> small = {
        {{3, 1, 28, 28}, {8, 1, 3, 3}, {.padding = {1, 1}}},
        {{2, 3, 8, 8}, {16, 3, 3, 3}, {.padding = {1, 1}}},
        {{2, 4, 8, 6}, {8, 2, 3, 3}, {.padding = {1, 1}, .groups = 2}},
        {{2, 1, 7, 5}, {8, 1, 3, 3}, {.padding = {1, 1}}},
        {{1, 32, 14, 14}, {64, 32, 3, 3}, {.padding = {1, 1}}},
    };
    const std::vector<bool> on_fma_block = {true, true, true, true, false};
    std::uint32_t seed = 300;
    for (std::size_t at = 0; at < small.size(); ++at) {
        const conv2d_case& c = small[at];
        const auto g = kernels::detail::conv2d_geometry_of(c.x, c.w, c.opts);
        INFO("x " << kernels::detail::extents_text(c.x) << ", w " << kernels::detail::extents_text(c.w));
        REQUIRE_FALSE(g.winograd);
        CHECK(kernels::detail::lowered_on_fma_block<float>(g) ==
              (kernels::detail::fma_block_available() && on_fma_block[at]));
        CHECK_FALSE(kernels::detail::lowered_on_fma_block<double>(g));
        const xt::xarray<double> x = random_array(c.x, seed++), w = random_array(c.w, seed++),
                                 b = random_array({c.w[0]}, seed++);
        const xt::xarray<double> want = direct_conv2d(x, w, b, c.opts),
                                 want_plain = direct_conv2d(x, w, 0 * b, c.opts);
        const xt::xarray<double> start = random_array(dims(want.shape()), seed++);
        const xt::xarray<float> xf = x, wf = w, bf = b;
        xt::xarray<float> y = xt::zeros<float>(want.shape()), y_plain = y, y_onto = start;
        conv2d_forward(xf, wf, bf, y, c.opts);
        conv2d_forward(xf, wf, none, y_plain, c.opts);
        // The lowered product itself in write::accumulate (conv_transpose2d's dx takes it so).
        std::vector<float> ws(g.workspace_size());
        kernels::detail::lowered_convolve(g, xf.data(), wf.data(), bf.data(), y_onto.data(), ws.data(),
                                          kernels::write::accumulate);
        // Sums of `patch` products below 1 in magnitude, in float.
        const double tolerance = 1e-6 * static_cast<double>(g.patch() + 2);
        CHECK(max_abs_diff(y, want) < tolerance);
        CHECK(max_abs_diff(y_plain, want_plain) < tolerance);
        CHECK(max_abs_diff(y_onto, want + start) < tolerance);
    }
}

TEST_CASE("conv2d backward matches finite differences with stride 2, dilation 2, groups 2 and padding",
          "[conv2d]") {
    std::uint32_t seed = 100;
    for (const conv2d_case& c : cases) {
        INFO("x " << kernels::detail::extents_text(c.x) << ", w " << kernels::detail::extents_text(c.w));
        xt::xarray<double> x = random_array(c.x, seed++), w = random_array(c.w, seed++),
                           b = random_array({c.w[0]}, seed++);
        const xt::xarray<double> r =
            random_array(dims(conv2d_output_shape(x.shape(), w.shape(), c.opts)), seed++);
        auto loss = [&] { return weighted_sum(run_forward(x, w, b, c.opts), r); };
        xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                           db = xt::zeros<double>(b.shape());
        conv2d_backward(x, w, r, dx, dw, db, c.opts);
        KATACHI_CHECK_GRADIENT(dx, numeric_gradient(loss, x));
        KATACHI_CHECK_GRADIENT(dw, numeric_gradient(loss, w));
        KATACHI_CHECK_GRADIENT(db, numeric_gradient(loss, b));
    }
}

TEST_CASE("conv2d matches PyTorch in float32: values and the x, w, b gradients", "[conv2d][torch]") {
    const auto file = test::load_fixture_file("gemm.safetensors");
    const std::vector<std::pair<std::string, conv2d_options>> torch_cases = {
        {"conv2d.odd", {.stride = {2, 1}, .padding = {1, 2}, .dilation = {2, 1}, .groups = 2}},
        {"conv2d.strided", {.stride = {2, 2}, .padding = {1, 1}, .dilation = {2, 2}}},
        {"conv2d.pointwise", {}},
    };
    for (const auto& [name, o] : torch_cases) {
        INFO(name);
        const auto x = test::fixture<float>(file, name + ".x"), w = test::fixture<float>(file, name + ".w"),
                   b = test::fixture<float>(file, name + ".b"), dy = test::fixture<float>(file, name + ".dy");
        xt::xarray<float> y = xt::zeros<float>(dims(conv2d_output_shape(x.shape(), w.shape(), o)));
        conv2d_forward(x, w, b, y, o);
        test::require_allclose(y, test::fixture<float>(file, name + ".y"));
        xt::xarray<float> dx = xt::zeros<float>(x.shape()), dw = xt::zeros<float>(w.shape()),
                          db = xt::zeros<float>(b.shape());
        conv2d_backward(x, w, dy, dx, dw, db, o);
        test::require_allclose(dx, test::fixture<float>(file, name + ".dx"));
        test::require_allclose(dw, test::fixture<float>(file, name + ".dw"));
        test::require_allclose(db, test::fixture<float>(file, name + ".db"));
    }
}

TEST_CASE("conv2d backward with write::accumulate adds onto the existing gradients", "[conv2d]") {
    for (const conv2d_case& c : cases) {
        INFO("x " << kernels::detail::extents_text(c.x) << ", w " << kernels::detail::extents_text(c.w));
        const xt::xarray<double> x = random_array(c.x, 1), w = random_array(c.w, 2),
                                 dy =
                                     random_array(dims(conv2d_output_shape(x.shape(), w.shape(), c.opts)), 3);
        xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                           db = xt::zeros<double>({c.w[0]});
        conv2d_backward(x, w, dy, dx, dw, db, c.opts);
        xt::xarray<double> ax = random_array(c.x, 4), aw = random_array(c.w, 5),
                           ab = random_array({c.w[0]}, 6);
        const xt::xarray<double> ax0 = ax, aw0 = aw, ab0 = ab;
        conv2d_backward(x, w, dy, ax, aw, ab, c.opts, {}, write::accumulate);
        CHECK(max_abs_diff(ax, ax0 + dx) < 1e-12);
        CHECK(max_abs_diff(aw, aw0 + dw) < 1e-12);
        CHECK(max_abs_diff(ab, ab0 + db) < 1e-12);
    }
}

TEST_CASE("conv2d backward leaves out gradients passed as none and computes the others unchanged",
          "[conv2d]") {
    const conv2d_case& c = cases[0];
    const xt::xarray<double> x = random_array(c.x, 1), w = random_array(c.w, 2),
                             dy = random_array(dims(conv2d_output_shape(x.shape(), w.shape(), c.opts)), 3);
    xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                       db = xt::zeros<double>({c.w[0]});
    conv2d_backward(x, w, dy, dx, dw, db, c.opts);
    xt::xarray<double> only_dx = xt::zeros<double>(x.shape()), only_dw = xt::zeros<double>(w.shape()),
                       only_db = xt::zeros<double>({c.w[0]});
    conv2d_backward(x, w, dy, only_dx, none, none, c.opts);
    conv2d_backward(x, w, dy, none, only_dw, none, c.opts);
    conv2d_backward(x, w, dy, none, none, only_db, c.opts);
    CHECK(max_abs_diff(only_dx, dx) == 0);
    CHECK(max_abs_diff(only_dw, dw) == 0);
    // With dw, db comes out of dw's GEMM; alone it is a plain sum: the same value up to rounding.
    CHECK(max_abs_diff(only_db, db) < 1e-12);
    CHECK(xt::amax(xt::abs(dx))() > 0);
}

TEST_CASE("conv2d without a bias equals conv2d with a zero bias", "[conv2d]") {
    const conv2d_case& c = cases[1];
    const xt::xarray<double> x = random_array(c.x, 7), w = random_array(c.w, 8);
    const xt::xarray<double> zero = xt::zeros<double>({c.w[0]});
    xt::xarray<double> y = xt::ones<double>(dims(conv2d_output_shape(x.shape(), w.shape(), c.opts)));
    conv2d_forward(x, w, none, y, c.opts);
    CHECK(max_abs_diff(y, direct_conv2d(x, w, zero, c.opts)) < 1e-12);
}

TEST_CASE("conv2d runs in a caller's workspace of conv2d_workspace_size elements and rejects a smaller one",
          "[conv2d]") {
    const conv2d_case& c = cases[0];
    const xt::xarray<double> x = random_array(c.x, 1), w = random_array(c.w, 2),
                             b = random_array({c.w[0]}, 3);
    const std::size_t size = conv2d_workspace_size(x.shape(), w.shape(), c.opts);
    // At least one group's im2col matrix of one sample: (C / groups) kh kw rows, Ho Wo columns.
    const auto ys = conv2d_output_shape(x.shape(), w.shape(), c.opts);
    CHECK(size >= 2 * 3 * 2 * ys[2] * ys[3]);
    CHECK(conv2d_workspace_size(cases[3].x, cases[3].w, cases[3].opts) == 0);
    std::vector<double> ws(size, 12345.0);
    xt::xarray<double> y = xt::zeros<double>(dims(ys));
    conv2d_forward(x, w, b, y, c.opts, ws);
    CHECK(max_abs_diff(y, direct_conv2d(x, w, b, c.opts)) < 1e-12);
    xt::xarray<double> dx = xt::zeros<double>(x.shape()), dx_own = xt::zeros<double>(x.shape());
    conv2d_backward(x, w, y, dx, none, none, c.opts, ws);
    conv2d_backward(x, w, y, dx_own, none, none, c.opts);
    CHECK(max_abs_diff(dx, dx_own) == 0);
    std::vector<double> small(size - 1);
    const std::string what = message_of([&] { conv2d_forward(x, w, b, y, c.opts, small); });
    CHECK_THROWS_AS(conv2d_forward(x, w, b, y, c.opts, small), shape_mismatch);
    CHECK(what.find("conv2d") != std::string::npos);
    CHECK(what.find(std::to_string(size)) != std::string::npos);
}

TEST_CASE("conv2d rejects a weight of the wrong rank, naming the kernel and the shape", "[conv2d]") {
    const xt::xarray<double> x = xt::zeros<double>({2, 4, 8, 8}), w = xt::zeros<double>({6, 4, 3}),
                             b = xt::zeros<double>({6});
    xt::xarray<double> y = xt::zeros<double>({2, 6, 6, 6});
    CHECK_THROWS_AS(conv2d_forward(x, w, b, y), shape_mismatch);
    const std::string what = message_of([&] { conv2d_forward(x, w, b, y); });
    CHECK(what.find("conv2d") != std::string::npos);
    CHECK(what.find("[6, 4, 3]") != std::string::npos);
    CHECK_THROWS_AS(conv2d_output_shape(x.shape(), w.shape()), shape_mismatch);
}

TEST_CASE("conv2d rejects channels that groups does not divide and a weight with the wrong channel count",
          "[conv2d]") {
    const std::vector<std::size_t> x{2, 6, 8, 8};
    CHECK_THROWS_AS(conv2d_output_shape(x, std::vector<std::size_t>{4, 2, 3, 3}, {.groups = 4}),
                    shape_mismatch);
    const std::string in_msg = message_of([&] {
        conv2d_output_shape(x, std::vector<std::size_t>{4, 2, 3, 3}, {.groups = 4});
    });
    CHECK(in_msg.find("conv2d") != std::string::npos);
    CHECK(in_msg.find("not divisible by groups 4") != std::string::npos);
    CHECK_THROWS_AS(conv2d_output_shape(x, std::vector<std::size_t>{5, 3, 3, 3}, {.groups = 2}),
                    shape_mismatch);
    CHECK_THROWS_AS(conv2d_output_shape(x, std::vector<std::size_t>{4, 6, 3, 3}, {.groups = 2}),
                    shape_mismatch);
    CHECK_THROWS_AS(conv2d_output_shape(x, std::vector<std::size_t>{4, 6, 3, 3}, {.groups = 0}),
                    shape_mismatch);
}

TEST_CASE("conv2d rejects a kernel larger than the padded input with the shared arithmetic error",
          "[conv2d]") {
    const xt::xarray<double> x = xt::zeros<double>({1, 2, 4, 9}), w = xt::zeros<double>({3, 2, 3, 3});
    xt::xarray<double> y = xt::zeros<double>({1, 3, 1, 1});
    const conv2d_options o{.dilation = {2, 1}};  // the dilated kernel spans 5 rows of 4
    CHECK_THROWS_AS(conv2d_forward(x, w, none, y, o), shape_arithmetic_error);
    try {
        conv2d_output_shape(x.shape(), w.shape(), o);
        FAIL("no exception");
    } catch (const shape_arithmetic_error& e) {
        CHECK(e.rule() == size_error::kernel_larger_than_input);
        CHECK(std::string(e.what()).find("conv2d") != std::string::npos);
    }
}

TEST_CASE("conv2d rejects outputs and gradients of the wrong shape", "[conv2d]") {
    const xt::xarray<double> x = xt::zeros<double>({2, 4, 8, 8}), w = xt::zeros<double>({6, 4, 3, 3}),
                             dy = xt::zeros<double>({2, 6, 6, 6});
    xt::xarray<double> y = xt::zeros<double>({2, 6, 8, 8}), b = xt::zeros<double>({5});
    CHECK_THROWS_AS(conv2d_forward(x, w, none, y), shape_mismatch);
    xt::xarray<double> good_y = xt::zeros<double>({2, 6, 6, 6});
    CHECK_THROWS_AS(conv2d_forward(x, w, b, good_y), shape_mismatch);
    xt::xarray<double> dw = xt::zeros<double>({6, 4, 3, 2});
    const std::string what = message_of([&] { conv2d_backward(x, w, dy, none, dw, none); });
    CHECK(what.find("conv2d: dw has shape [6, 4, 3, 2], expected [6, 4, 3, 3]") != std::string::npos);
    CHECK_THROWS_AS(conv2d_backward(x, w, dy, none, none, b), shape_mismatch);
}

TEST_CASE("conv2d forward and backward allocate nothing when given outputs and a workspace", "[conv2d]") {
    for (const conv2d_case& c : {cases[0], cases[3], cases[6]}) {  // one GEMM per sample, 1x1, batched
        INFO("x " << kernels::detail::extents_text(c.x) << ", w " << kernels::detail::extents_text(c.w));
        const xt::xarray<double> x = random_array(c.x, 1), w = random_array(c.w, 2),
                                 b = random_array({c.w[0]}, 3);
        xt::xarray<double> y = xt::zeros<double>(dims(conv2d_output_shape(x.shape(), w.shape(), c.opts)));
        xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                           db = xt::zeros<double>(b.shape());
        std::vector<double> ws(conv2d_workspace_size(x.shape(), w.shape(), c.opts));
        const std::size_t before = katachi::test::allocation_count();
        conv2d_forward(x, w, b, y, c.opts, ws);
        conv2d_backward(x, w, y, dx, dw, db, c.opts, ws);
        conv2d_backward(x, w, y, dx, none, db, c.opts, ws, write::accumulate);
        const std::size_t after = katachi::test::allocation_count();
        CHECK(after == before);
        if (!ws.empty()) {  // without a workspace the kernel allocates its own: the count sees it
            conv2d_forward(x, w, b, y, c.opts);
            const std::size_t own = katachi::test::allocation_count();
            CHECK(own > after);
        }
    }
}
