// conv2d's Winograd path (winograd.hpp) against its im2col path on the same shapes: forward, dx, dw
// and db, both write modes, float64 and float32, one to three threads; a finite-difference check
// through the public kernels; which shapes take the path; its workspace and the graph face's bound.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <katachi/graph/layers/conv2d.hpp>
#include <katachi/kernels/conv1d.hpp>
#include <katachi/kernels/conv2d.hpp>
#include <katachi/kernels/conv_transpose2d.hpp>
#include <katachi/parallel.hpp>
#include <span>
#include <string>
#include <vector>
#include <xtensor/xarray.hpp>

#include "support/allocation_counter.hpp"
#include "support/checks.hpp"
#include "support/gradcheck.hpp"

using namespace katachi;
using namespace katachi::kernels;
using namespace katachi::test;
namespace kd = katachi::kernels::detail;

namespace {

// Restores the thread count a test changed.
struct thread_count_guard {
    int saved = katachi::get_num_threads();
    ~thread_count_guard() { katachi::set_num_threads(saved); }
};

struct wino_case {
    std::vector<std::size_t> x, w;
    std::array<std::size_t, 2> padding;
    bool bias;
};

// Odd and even sizes, every padding Winograd takes (0, 1, 2 and mixed), batches 1, 3 and 64, 8 to 40
// channels, with and without a bias; 3x3 and 4x5 images are smaller than two tiles' input.
const std::vector<wino_case> cases = {
    {{1, 8, 13, 15}, {8, 8, 3, 3}, {1, 1}, true},     {{3, 16, 14, 14}, {24, 16, 3, 3}, {0, 0}, false},
    {{3, 12, 3, 3}, {8, 12, 3, 3}, {2, 2}, true},     {{3, 8, 4, 5}, {16, 8, 3, 3}, {1, 0}, false},
    {{3, 9, 13, 15}, {11, 9, 3, 3}, {2, 1}, true},    {{1, 40, 4, 5}, {9, 40, 3, 3}, {0, 2}, true},
    {{64, 32, 14, 14}, {40, 32, 3, 3}, {1, 1}, true}, {{64, 8, 5, 6}, {10, 8, 3, 3}, {0, 1}, false},
};

// LeNet's second convolution at batch 64: 32 -> 64 channels on 14x14, padding 1.
constexpr kd::winograd_shape lenet_conv2{.batch = 64,
                                         .channels = 32,
                                         .height = 14,
                                         .width = 14,
                                         .out_channels = 64,
                                         .out_height = 14,
                                         .out_width = 14,
                                         .pad_h = 1,
                                         .pad_w = 1};

template <class T>
xt::xarray<T> random_of(const std::vector<std::size_t>& shape, std::uint32_t seed) {
    return xt::xarray<T>(random_array(shape, seed));
}

// max |a - b| over max |b|: the agreement of two results relative to their size.
template <class T>
double relative_diff(const xt::xarray<T>& a, const xt::xarray<T>& b) {
    REQUIRE(a.shape() == b.shape());
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, std::abs(static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i])));
        scale = std::max(scale, std::abs(static_cast<double>(b.data()[i])));
    }
    return scale > 0 ? diff / scale : diff;
}

// A case's geometry with the path forced either way. Winograd applies to every case (3x3, stride 1,
// padding up to 2); the channels and the batch only decide whether conv2d picks it by itself.
kd::conv_geometry geometry_of(const wino_case& c, bool winograd) {
    kd::conv_geometry g = kd::conv2d_geometry_of(c.x, c.w, {.padding = c.padding});
    REQUIRE(kd::winograd_applies(g.kernel_h, g.kernel_w, g.stride_h, g.stride_w, g.dilation_h, g.dilation_w,
                                 g.groups, g.pad_h, g.pad_w));
    g.winograd = winograd;
    return g;
}

// Everything the two paths write, for one case, one scalar, one write mode.
template <class T>
struct results {
    xt::xarray<T> y, dx, dw, db, dx_alone, dw_alone, db_alone;
};

// With `sparse` dy keeps one entry of every 2x2 block of each plane, and drops a third of those:
// the gradient a relu and a 2x2 max pooling send back, which conv2d's backward sums from its
// nonzero entries where the processor has AVX-512F (winograd/sparse_backward.hpp).
template <class T>
results<T> run_path(const wino_case& c, bool winograd, kernels::write mode, std::uint32_t seed,
                    bool sparse = false) {
    const kd::conv_geometry g = geometry_of(c, winograd);
    const xt::xarray<T> x = random_of<T>(c.x, seed), w = random_of<T>(c.w, seed + 1),
                        b = random_of<T>({c.w[0]}, seed + 2);
    xt::xarray<T> dy = random_of<T>({g.batch, g.out_channels, g.out_height, g.out_width}, seed + 3);
    if (sparse)
        for (std::size_t i = 0; i < dy.size(); ++i) {
            const std::size_t col = i % g.out_width, row = i / g.out_width % g.out_height,
                              plane = i / (g.out_height * g.out_width);
            const std::size_t chosen = (plane * 7 + row / 2 * 3 + col / 2) % 4;  // the window's position
            if ((row % 2) * 2 + col % 2 != chosen || (plane + row / 2 + col / 2) % 3 == 0)
                dy.data()[i] = T(0);
        }
    // With write::accumulate every output starts from the same random values on both paths.
    const auto start = [&](const std::vector<std::size_t>& shape, std::uint32_t s) {
        return mode == kernels::write::accumulate ? random_of<T>(shape, s)
                                                  : xt::xarray<T>(xt::zeros<T>(shape));
    };
    const std::vector<std::size_t> ys{g.batch, g.out_channels, g.out_height, g.out_width};
    results<T> r{start(ys, 50),  start(c.x, 51), start(c.w, 52),     start({c.w[0]}, 53),
                 start(c.x, 54), start(c.w, 55), start({c.w[0]}, 56)};
    // The forward through the lowered products themselves, so write::accumulate is covered too.
    std::vector<T> ws(g.workspace_size());
    const T* bias = c.bias ? b.data() : nullptr;
    if (winograd)
        kd::winograd_convolve(g.winograd_sizes(), x.data(), w.data(), false, bias, r.y.data(), ws.data(),
                              mode);
    else
        kd::lowered_convolve(g, x.data(), w.data(), bias, r.y.data(), ws.data(), mode);
    // The backward through conv2d's dispatch: all three gradients, then each alone (db then comes
    // from a plain sum instead of the weight gradient's pass).
    const std::span<T> none_ws{};
    kd::run_lowered_backward<T>("conv2d", g, x, w, dy, r.dx, r.dw, r.db, none_ws, mode);
    kd::run_lowered_backward<T>("conv2d", g, x, w, dy, r.dx_alone, none, none, none_ws, mode);
    kd::run_lowered_backward<T>("conv2d", g, x, w, dy, none, r.dw_alone, none, none_ws, mode);
    kd::run_lowered_backward<T>("conv2d", g, x, w, dy, none, none, r.db_alone, none_ws, mode);
    return r;
}

template <class T>
void compare_paths(double tolerance, bool sparse = false) {
    const thread_count_guard guard;
    std::uint32_t seed = 1;
    for (const wino_case& c : cases)
        for (int threads : {1, 2, 3})
            for (kernels::write mode : {kernels::write::overwrite, kernels::write::accumulate}) {
                INFO("x " << kd::extents_text(c.x) << ", w " << kd::extents_text(c.w) << ", padding "
                          << c.padding[0] << "," << c.padding[1] << (c.bias ? ", bias" : ", no bias") << ", "
                          << threads << " thread(s), "
                          << (mode == kernels::write::accumulate ? "accumulate" : "overwrite"));
                katachi::set_num_threads(threads);
                const results<T> wino = run_path<T>(c, true, mode, seed, sparse),
                                 lowered = run_path<T>(c, false, mode, seed, sparse);
                seed += 10;
                CHECK(relative_diff(wino.y, lowered.y) < tolerance);
                CHECK(relative_diff(wino.dx, lowered.dx) < tolerance);
                CHECK(relative_diff(wino.dw, lowered.dw) < tolerance);
                CHECK(relative_diff(wino.db, lowered.db) < tolerance);
                CHECK(relative_diff(wino.dx_alone, lowered.dx_alone) < tolerance);
                CHECK(relative_diff(wino.dw_alone, lowered.dw_alone) < tolerance);
                CHECK(relative_diff(wino.db_alone, lowered.db_alone) < tolerance);
            }
}

// Central differences at every `stride`-th element of x only (the others stay 0), for shapes whose
// full numeric gradient would take too many forward passes.
template <class Loss>
xt::xarray<double> sampled_numeric_gradient(Loss&& loss, xt::xarray<double>& x, std::size_t stride) {
    xt::xarray<double> g = xt::zeros<double>(x.shape());
    for (std::size_t i = 0; i < x.size(); i += stride) {
        const double saved = x.data()[i];
        x.data()[i] = saved + 1e-6;
        const double up = loss();
        x.data()[i] = saved - 1e-6;
        const double down = loss();
        x.data()[i] = saved;
        g.data()[i] = (up - down) / 2e-6;
    }
    return g;
}

xt::xarray<double> sampled(const xt::xarray<double>& a, std::size_t stride) {
    xt::xarray<double> g = xt::zeros<double>(a.shape());
    for (std::size_t i = 0; i < a.size(); i += stride) g.data()[i] = a.data()[i];
    return g;
}

}  // namespace

TEST_CASE("winograd conv2d agrees with the im2col path in float64 for y, dx, dw and db in both write modes",
          "[winograd]") {
    compare_paths<double>(1e-12);
}

TEST_CASE("winograd conv2d agrees with the im2col path in float32 for y, dx, dw and db in both write modes",
          "[winograd]") {
    compare_paths<float>(1e-5);
}

TEST_CASE("winograd conv2d's backward from a mostly zero output gradient agrees with the im2col path",
          "[kernels][winograd]") {
    // Where the processor has AVX-512F the float backward then sums from the nonzero entries
    // (checked to be taken on the first case), in double it stays Winograd's.
    if (kd::avx512_available()) {
        const kd::conv_geometry g = geometry_of(cases.front(), true);
        std::vector<float> dy(g.batch * g.out_channels * g.out_height * g.out_width, 0.f);
        for (std::size_t i = 0; i < dy.size(); i += 8) dy[i] = 1.f;
        CHECK(kd::winograd_sparse_runs<float>(g.winograd_sizes(), dy.data(), g.workspace_size()));
        std::fill(dy.begin(), dy.end(), 1.f);
        CHECK_FALSE(kd::winograd_sparse_runs<float>(g.winograd_sizes(), dy.data(), g.workspace_size()));
    } else {
        WARN("this processor has no AVX-512F: the sums from nonzero entries do not run here");
    }
    compare_paths<float>(2e-5, true);
    compare_paths<double>(1e-12, true);
}

TEST_CASE("winograd conv2d backward matches finite differences through conv2d_forward and conv2d_backward",
          "[winograd]") {
    // 20 samples of 15 or 12 tiles: enough for conv2d to pick Winograd by itself.
    for (const std::array<std::size_t, 2> padding : {std::array<std::size_t, 2>{1, 2}, {2, 0}}) {
        INFO("padding " << padding[0] << "," << padding[1]);
        const conv2d_options o{.padding = padding};
        xt::xarray<double> x = random_array({20, 16, 6, 7}, 1), w = random_array({17, 16, 3, 3}, 2),
                           b = random_array({17}, 3);
        REQUIRE(kd::conv2d_geometry_of(x.shape(), w.shape(), o).winograd);
        const xt::xarray<double> r = random_array(dims(conv2d_output_shape(x.shape(), w.shape(), o)), 4);
        auto loss = [&] {
            xt::xarray<double> y = xt::zeros<double>(r.shape());
            conv2d_forward(x, w, b, y, o);
            return weighted_sum(y, r);
        };
        xt::xarray<double> dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>(w.shape()),
                           db = xt::zeros<double>(b.shape());
        conv2d_backward(x, w, r, dx, dw, db, o);
        KATACHI_CHECK_GRADIENT(sampled(dx, 13), sampled_numeric_gradient(loss, x, 13));
        KATACHI_CHECK_GRADIENT(sampled(dw, 5), sampled_numeric_gradient(loss, w, 5));
        KATACHI_CHECK_GRADIENT(db, numeric_gradient(loss, b));
    }
}

TEST_CASE(
    "conv2d picks winograd for 3x3 stride-1 kernels with padding up to 2, 16 channels in, 8 out and 196 "
    "tiles",
    "[winograd]") {
    const auto takes = [](std::vector<std::size_t> x, std::vector<std::size_t> w, conv2d_options o) {
        return kd::conv2d_geometry_of(x, w, o).winograd;
    };
    CHECK(takes({64, 32, 14, 14}, {64, 32, 3, 3}, {.padding = {1, 1}}));  // LeNet's second conv
    CHECK(takes({4, 32, 14, 14}, {64, 32, 3, 3}, {.padding = {1, 1}}));   // 4 x 49 tiles
    CHECK_FALSE(takes({3, 32, 14, 14}, {64, 32, 3, 3}, {.padding = {1, 1}}));
    CHECK(takes({49, 16, 5, 4}, {16, 16, 3, 3}, {.padding = {2, 0}}));  // 4 tiles a sample
    CHECK_FALSE(takes({48, 16, 5, 4}, {16, 16, 3, 3}, {.padding = {2, 0}}));
    CHECK_FALSE(takes({64, 1, 28, 28}, {32, 1, 3, 3}, {.padding = {1, 1}}));  // LeNet's first: one channel
    CHECK(takes({64, 16, 14, 14}, {8, 16, 3, 3}, {.padding = {1, 1}}));
    CHECK_FALSE(takes({64, 16, 14, 14}, {4, 16, 3, 3}, {.padding = {1, 1}}));
    CHECK_FALSE(takes({64, 8, 14, 14}, {16, 8, 3, 3}, {.padding = {1, 1}}));
    CHECK_FALSE(takes({64, 16, 14, 14}, {16, 16, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}}));
    CHECK_FALSE(takes({64, 16, 14, 14}, {16, 16, 3, 3}, {.padding = {3, 1}}));
    CHECK_FALSE(takes({64, 16, 14, 14}, {16, 16, 3, 3}, {.dilation = {1, 2}}));
    CHECK_FALSE(takes({64, 32, 14, 14}, {32, 16, 3, 3}, {.groups = 2}));
    CHECK_FALSE(takes({64, 16, 14, 14}, {16, 16, 5, 5}, {}));
    CHECK_FALSE(takes({64, 16, 14, 14}, {16, 16, 3, 1}, {}));
    // conv1d and conv_transpose2d keep the im2col lowering whatever their shape.
    CHECK_FALSE(kd::conv1d_geometry_of(std::vector<std::size_t>{64, 16, 196},
                                       std::vector<std::size_t>{16, 16, 3}, conv1d_options{.padding = 1})
                    .winograd);
    CHECK_FALSE(kd::conv_transpose2d_geometry_of(std::vector<std::size_t>{64, 16, 14, 14},
                                                 std::vector<std::size_t>{16, 16, 3, 3},
                                                 conv_transpose2d_options{.padding = {1, 1}})
                    .winograd);
}

namespace {

// Forward and backward in a workspace of exactly conv2d_workspace_size elements, allocating nothing
// after the first call (which may grow the workers' scratch), the same result as with the kernel's own
// workspace, and an error for one element less. In float on a processor with AVX2 the convolutions
// and the weight gradient run fused on fma_block, in double on OpenBLAS.
template <class T>
void check_workspace() {
    const thread_count_guard guard;
    const std::vector<std::size_t> xs{5, 16, 13, 14}, wsh{24, 16, 3, 3};
    const conv2d_options o{.padding = {1, 2}};
    const kd::conv_geometry g = kd::conv2d_geometry_of(xs, wsh, o);
    REQUIRE(g.winograd);
    const std::size_t size = conv2d_workspace_size(xs, wsh, o);
    CHECK(size == kd::winograd_workspace_size(g.winograd_sizes()));
    const xt::xarray<T> x = random_of<T>(xs, 1), w = random_of<T>(wsh, 2), b = random_of<T>({24}, 3);
    const auto ys = conv2d_output_shape(xs, wsh, o);
    xt::xarray<T> y = xt::zeros<T>(dims(ys)), y_own = xt::zeros<T>(dims(ys)), dx = xt::zeros<T>(xs),
                  dw = xt::zeros<T>(wsh), db = xt::zeros<T>({24});
    conv2d_forward(x, w, b, y_own, o);
    for (int threads : {1, 2}) {
        INFO(threads << " thread(s)");
        katachi::set_num_threads(threads);
        std::vector<T> ws(size, T(12345));
        conv2d_forward(x, w, b, y, o, ws);  // the first call may grow the workers' scratch
        conv2d_backward(x, w, y, dx, dw, db, o, ws);
        const std::size_t before = katachi::test::allocation_count();
        conv2d_forward(x, w, b, y, o, ws);
        conv2d_backward(x, w, y, dx, dw, db, o, ws);
        conv2d_backward(x, w, y, dx, none, db, o, ws, kernels::write::accumulate);
        CHECK(katachi::test::allocation_count() == before);
        CHECK(max_abs_diff(y, y_own) == 0);
    }
    std::vector<T> small(size - 1);
    const std::string what = message_of([&] { conv2d_forward(x, w, b, y, o, small); });
    CHECK(what.find("conv2d") != std::string::npos);
    CHECK(what.find(std::to_string(size)) != std::string::npos);
    CHECK_THROWS_AS(conv2d_backward(x, w, y, dx, none, none, o, small), shape_mismatch);
}

}  // namespace

TEST_CASE(
    "winograd conv2d runs in a workspace of conv2d_workspace_size elements, allocating nothing, and rejects "
    "a smaller one, in float64 and float32",
    "[winograd]") {
    check_workspace<double>();
    check_workspace<float>();
}

TEST_CASE("winograd runs its products on fma_block in float where the processor has AVX2, never in double",
          "[winograd]") {
    // The comparisons with the im2col path above then cover it, channel counts of 8 to 40 with
    // remainders (9, 10, 11 and 12 channels) included.
    CHECK(kd::winograd_on_fma_block<float>() == kd::fma_block_available());
    CHECK_FALSE(kd::winograd_on_fma_block<double>());
    if (!kd::fma_block_available())
        WARN("this processor has no AVX2 and FMA: every Winograd product runs on OpenBLAS");
}

TEST_CASE("the graph face's conv2d workspace covers the kernel's at every batch, winograd or not",
          "[winograd]") {
    using layer = graph::conv2d<64, 3, graph::padding<1>>::bind<katachi::shape<32, 14, 14>>;
    using narrow = graph::conv2d<32, 3, graph::padding<1>>::bind<katachi::shape<1, 28, 28>>;
    using mixed =
        graph::conv2d<16, 3, graph::padding<2, 0>, graph::bias<false>>::bind<katachi::shape<17, 5, 4>>;
    static_assert(katachi::ops::conv2d::winograd_applies(layer::bound) &&
                  katachi::ops::conv2d::winograd_applies(mixed::bound) &&
                  katachi::ops::conv2d::winograd_applies(narrow::bound));
    const auto kernel_size = [](std::size_t batch, std::size_t c, std::size_t o, std::size_t h, std::size_t w,
                                std::array<std::size_t, 2> padding) {
        return conv2d_workspace_size(std::vector<std::size_t>{batch, c, h, w},
                                     std::vector<std::size_t>{o, c, 3, 3}, {.padding = padding});
    };
    for (std::size_t batch : {0u, 1u, 3u, 4u, 5u, 6u, 48u, 49u, 63u, 64u, 65u, 256u}) {
        INFO("batch " << batch);
        CHECK(layer::workspace_size(batch) >= kernel_size(batch, 32, 64, 14, 14, {1, 1}));
        CHECK(mixed::workspace_size(batch) >= kernel_size(batch, 17, 16, 5, 4, {2, 0}));
        CHECK(narrow::workspace_size(batch) >= kernel_size(batch, 1, 32, 28, 28, {1, 1}));
    }
    // From 4 samples on LeNet's second conv runs on Winograd, and the bound is its size exactly.
    CHECK(layer::workspace_size(64) == kernel_size(64, 32, 64, 14, 14, {1, 1}));
    CHECK(layer::workspace_size(64) == kd::winograd_workspace_size(lenet_conv2));
}

TEST_CASE("the weight transform by column gives the transform by row transposed, bit for bit, on any part",
          "[kernels][winograd]") {
    // On a processor with AVX-512F, float by column takes the gathered 16-kernel path; by row is
    // always the loop one kernel at a time. 37 rows: two whole vectors and a part of 5.
    const std::size_t rows = 37, cols = 5, plane = rows * cols;
    std::vector<float> w(rows * cols * 9);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.37f * float(i)) * 3.f;
    for (bool turned : {false, true})
        for (auto [first, last] :
             {std::pair<std::size_t, std::size_t>{0, rows}, {0, 16}, {16, 37}, {3, 30}}) {
            INFO("turned " << turned << ", rows " << first << " to " << last);
            std::vector<float> by_row(16 * plane, -1.f), by_column(16 * plane, -1.f);
            kd::winograd_weights(rows, cols, w.data(), turned, false, by_row.data());
            kd::winograd_weights(rows, cols, w.data(), turned, true, by_column.data(), first, last);
            std::size_t mismatched = 0, written = 0;
            for (std::size_t xi = 0; xi < 16; ++xi)
                for (std::size_t r = 0; r < rows; ++r)
                    for (std::size_t k = 0; k < cols; ++k) {
                        const float got = by_column[xi * plane + k * rows + r];
                        const bool inside = r >= first && r < last;
                        written += got != -1.f;
                        if (inside ? got != by_row[xi * plane + r * cols + k] : got != -1.f) ++mismatched;
                    }
            CHECK(mismatched == 0);
            CHECK(written > 0);
        }
}
