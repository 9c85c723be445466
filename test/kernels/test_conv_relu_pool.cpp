// conv_relu_max_pool2d: the fused passes (a convolution, its relu and a 2x2 max pooling in one,
// kernels/conv_relu_pool.hpp, kernels/winograd/pool.hpp and pool_backward.hpp) against the three layers' own
// kernels one after the other, forward and backward, on odd shapes, at one thread and at two. The unfused way
// is checked elsewhere against finite differences and PyTorch (test_conv2d, test_max_pool2d, the graph
// suite's gradcheck, which runs it in double).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <katachi/ops/conv_relu_max_pool2d.hpp>
#include <katachi/parallel.hpp>
#include <katachi/random.hpp>
#include <string>
#include <vector>

using namespace katachi;

namespace {

struct fused_case {
    std::size_t batch, channels, height, width, out_channels;
    ops::size2 kernel, padding;
    bool bias;
};

std::vector<float> random_values(std::size_t n, std::uint64_t seed) {
    generator gen(seed);
    std::vector<float> v(n);
    for (float& x : v) x = gen.uniform<float>(-1.f, 1.f);
    return v;
}

// The largest |a - b| relative to max(1, |b|).
double worst(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    double w = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        w = std::max(w, std::abs(double(a[i]) - double(b[i])) / std::max(1.0, std::abs(double(b[i]))));
    return w;
}

// One run of the op on one path: the pooled output, the positions, and the gradients of the
// weight, bias and input for a pooled gradient dy, accumulated onto `start` where mode says so.
struct run_result {
    std::vector<float> y, dw, db, dx;
    std::vector<std::int64_t> positions;
};

ops::conv2d_options conv_of(const fused_case& k) {
    return {.in_channels = k.channels,
            .out_channels = k.out_channels,
            .kernel_size = k.kernel,
            .padding = k.padding,
            .bias = k.bias};
}

bool fused_runs(const fused_case& k) {
    return ops::conv_relu_max_pool2d::fused_runs<float>(conv_of(k), {}, {k.channels, k.height, k.width},
                                                        k.batch);
}

using pass = ops::conv_relu_max_pool2d::pass;

run_result run(const fused_case& k, pass way, kernels::write mode, bool want_dx, bool want_dw = true) {
    const ops::conv2d_options conv = conv_of(k);
    const ops::max_pool2d_options pool{};
    const ops::dims in{k.channels, k.height, k.width};
    using op = ops::conv_relu_max_pool2d;
    REQUIRE(op::fits(conv, pool, in));
    const ops::dims mid = op::between(conv, in);
    const std::size_t pooled = k.out_channels * (mid[1] / 2) * (mid[2] / 2);
    const std::size_t taps = k.channels * k.kernel.h * k.kernel.w;

    const auto x = random_values(k.batch * in.size(), 1);
    const auto w = random_values(k.out_channels * taps, 2);
    const auto b = random_values(k.out_channels, 3);
    const auto dy = random_values(k.batch * pooled, 4);
    run_result r;
    r.y.assign(k.batch * pooled, -7.f);
    r.positions.assign(op::index_size(conv, pool, in, k.batch), -1);
    // Whatever the gradients held before: accumulate must add onto it, overwrite replace it.
    r.dw = random_values(w.size(), 5);
    r.db = random_values(b.size(), 6);
    r.dx = random_values(x.size(), 7);
    std::vector<float> ws(
        std::max(op::workspace_size(conv, pool, in, k.batch), op::unfused_workspace_size(conv, in, k.batch)));

    ops::call<float> c;
    c.batch = k.batch;
    c.training = true;
    c.x = {x.data(), nullptr};
    c.y = r.y.data();
    c.params = {w.data(), k.bias ? b.data() : nullptr};
    c.indices = r.positions.data();
    c.workspace = ws.data();
    op::forward(conv, pool, in, c, way);
    c.dy = dy.data();
    c.dx = {want_dx ? r.dx.data() : nullptr, nullptr};
    c.dx_mode = {mode, mode};
    c.dparams = {want_dw ? r.dw.data() : nullptr, want_dw && k.bias ? r.db.data() : nullptr};
    c.dparams_mode = mode;
    op::backward(conv, pool, in, c, way);
    return r;
}

}  // namespace

TEST_CASE("the fused convolution, relu and pooling give the three layers' values and gradients",
          "[kernels][conv_relu_pool]") {
    // The direct pass: few taps.
    const std::vector<fused_case> cases{
        {5, 1, 28, 28, 32, {3, 3}, {1, 1}, true},  // a Fashion-MNIST LeNet's first layer
        {3, 3, 13, 37, 5, {3, 3}, {1, 1}, false},  // 18 pooled columns: a full block and a part
        {4, 1, 12, 11, 4, {5, 5}, {0, 0}, true},   // odd output: the last row and column are dropped
        {2, 2, 9, 40, 3, {2, 3}, {0, 2}, true},    // an oblong kernel, padding in width only
        {1, 32, 6, 6, 2, {1, 1}, {0, 0}, true},    // 32 channels of 1x1: the most taps
        {1, 1, 28, 28, 32, {3, 3}, {1, 1}, true},  // one sample: two threads split the channels
        {1, 3, 13, 37, 7, {3, 3}, {1, 1}, true},   // one sample, an odd channel count
    };
    for (unsigned threads : {1u, 2u}) {
        set_num_threads(threads);
        for (const fused_case& k : cases)
            for (kernels::write mode : {kernels::write::overwrite, kernels::write::accumulate})
                for (bool want_dx : {false, true}) {
                    INFO("threads " << threads << ", batch " << k.batch << ", channels " << k.channels << ", "
                                    << k.height << "x" << k.width << ", kernel " << k.kernel.h << "x"
                                    << k.kernel.w << ", accumulate " << (mode == kernels::write::accumulate)
                                    << ", dx " << want_dx);
                    // The pass this processor runs (vectors where it has AVX-512F), the portable
                    // one, and the three layers one by one.
                    const run_result fused = run(k, pass::automatic, mode, want_dx),
                                     portable = run(k, pass::portable, mode, want_dx),
                                     plain = run(k, pass::unfused, mode, want_dx);
                    for (const run_result* r : {&fused, &portable}) {
                        CHECK(worst(r->y, plain.y) < 1e-5);
                        CHECK(r->positions == plain.positions);
                        CHECK(worst(r->dw, plain.dw) < 1e-4);
                        CHECK(worst(r->db, plain.db) < 1e-4);
                        CHECK(worst(r->dx, plain.dx) < 1e-5);
                    }
                    // Every pooled value went through the relu.
                    CHECK(std::all_of(fused.y.begin(), fused.y.end(), [](float v) { return v >= 0.f; }));
                }
    }
    set_num_threads(2);
}

TEST_CASE("Winograd's forward and backward with the pooling taken in give the three layers' values",
          "[kernels][conv_relu_pool][winograd]") {
    // Convolutions Winograd runs (16 or more channels, enough tiles), even outputs. Without a bias
    // the window positions must agree too (with one, adding it may round two candidates to one
    // value, and the positions may then name different ones of the tied maxima).
    const std::vector<fused_case> cases{
        {8, 32, 14, 14, 64, {3, 3}, {1, 1}, false},  // the LeNet's second layer
        {9, 32, 14, 14, 64, {3, 3}, {1, 1}, false},  // chunks of four samples and one
        {7, 16, 10, 12, 10, {3, 3}, {1, 1}, false},  // 10 channels out: a vector of 8 and 2 alone
        {5, 17, 18, 14, 9, {3, 3}, {0, 0}, false},   // no padding, odd channel counts
        {6, 16, 12, 12, 16, {3, 3}, {2, 2}, true},   // padding 2, with a bias: the values only
        {1, 32, 14, 14, 64, {3, 3}, {1, 1}, false},  // one sample: two threads split the channels
        {1, 16, 14, 14, 80, {3, 3}, {1, 1}, false},  // one sample, 32 and 48 channels a thread
        {1, 16, 14, 14, 80, {3, 3}, {1, 1}, true},   // the same with a bias: the values only
    };
    struct wanted {
        kernels::write mode;
        bool dx, dw;
    };
    const std::vector<wanted> gradients{{kernels::write::overwrite, true, true},
                                        {kernels::write::accumulate, true, true},
                                        {kernels::write::overwrite, false, true},
                                        {kernels::write::accumulate, true, false}};
    for (unsigned threads : {1u, 2u}) {
        set_num_threads(threads);
        for (const fused_case& k : cases)
            for (const wanted& g : gradients) {
                INFO("threads " << threads << ", batch " << k.batch << ", channels " << k.channels << " -> "
                                << k.out_channels << ", " << k.height << "x" << k.width << ", padding "
                                << k.padding.h << ", accumulate " << (g.mode == kernels::write::accumulate)
                                << ", dx " << g.dx << ", dw " << g.dw);
                if (!fused_runs(k)) {
                    WARN("this processor has no AVX2 and FMA: Winograd's fused pass does not run here");
                    continue;
                }
                const run_result fused = run(k, pass::automatic, g.mode, g.dx, g.dw),
                                 plain = run(k, pass::unfused, g.mode, g.dx, g.dw);
                // The fused forward runs from one 14x14 sample on; conv2d's own Winograd waits for
                // four (before, it lowers to a GEMM, whose sums round otherwise). A batch of one is
                // compared with the first sample of the same inputs in a batch of four (x and dy are
                // drawn in sample order, so their first sample is the same). From four samples on the
                // backward is the fused one too, and gives the same dw and dx; db sums in another
                // order.
                fused_case four = k;
                four.batch = 4;
                const run_result wide = k.batch >= 4 ? plain : run(four, pass::unfused, g.mode, g.dx, g.dw);
                const auto first = [&](const auto& v, std::size_t n) {
                    return std::vector<typename std::decay_t<decltype(v)>::value_type>(v.begin(),
                                                                                       v.begin() + n);
                };
                CHECK(fused.y == first(wide.y, fused.y.size()));
                if (!k.bias) {
                    CHECK(fused.positions == first(wide.positions, fused.positions.size()));
                    // Summed from the windows (AVX-512F) the gradients round otherwise (both ways
                    // are checked against sums in double below).
                    CHECK(worst(fused.dw, plain.dw) < 1e-4);
                    CHECK(worst(fused.dx, plain.dx) < 1e-5);
                }
                CHECK(worst(fused.db, plain.db) < 1e-4);
                CHECK(std::all_of(fused.y.begin(), fused.y.end(), [](float v) { return v >= 0.f; }));
            }
    }
    set_num_threads(2);
}

TEST_CASE("Winograd's pooled backward gives dw and dx as float64 sums do, summed by window or not",
          "[kernels][conv_relu_pool][winograd]") {
    // The LeNet's second layer and an odd one (17 -> 9 channels, no padding: a part vector and the
    // other paddings). The window positions and pooled values come from the fused forward; dw and
    // dx are then summed in double straight from their definitions, and the fused backward must
    // match them both ways it can sum (by window needs AVX-512F; without it both runs go through
    // Winograd's transforms).
    const std::vector<fused_case> cases{{8, 32, 14, 14, 64, {3, 3}, {1, 1}, false},
                                        {5, 17, 18, 14, 9, {3, 3}, {0, 0}, false},
                                        {6, 40, 12, 12, 24, {3, 3}, {2, 2}, false}};
    using op = ops::conv_relu_max_pool2d;
    for (const fused_case& k : cases) {
        INFO("batch " << k.batch << ", channels " << k.channels << " -> " << k.out_channels << ", padding "
                      << k.padding.h);
        const ops::conv2d_options conv = conv_of(k);
        const ops::dims in{k.channels, k.height, k.width};
        const auto s = op::winograd_sizes(conv, in, k.batch);
        if (!kernels::detail::winograd_pool_backward_runs<float>(s)) {
            WARN("this processor has no AVX2 and FMA: Winograd's fused pass does not run here");
            continue;
        }
        const run_result ran = run(k, pass::automatic, kernels::write::overwrite, false);
        const auto x = random_values(k.batch * in.size(), 1);
        const auto w = random_values(k.out_channels * k.channels * 9, 2);
        const auto dy = random_values(ran.y.size(), 4);
        std::vector<std::uint8_t> at(ran.y.size());
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(ran.positions.data());
        std::copy(bytes, bytes + at.size(), at.begin());
        // The sum in double: each window's gradient, where its pooled value is positive, at its
        // position, times the input under each tap.
        const std::size_t ho = s.out_height, wo = s.out_width, hp = ho / 2, wp = wo / 2;
        std::vector<double> exact(w.size(), 0.0), exact_dx(x.size(), 0.0);
        for (std::size_t n = 0; n < k.batch; ++n)
            for (std::size_t o = 0; o < k.out_channels; ++o)
                for (std::size_t t = 0; t < hp * wp; ++t) {
                    const std::size_t i = (n * k.out_channels + o) * hp * wp + t;
                    if (!(ran.y[i] > 0.f)) continue;
                    const std::size_t oi = 2 * (t / wp) + at[i] / 2, oj = 2 * (t % wp) + at[i] % 2;
                    for (std::size_t c = 0; c < k.channels; ++c)
                        for (std::size_t dh = 0; dh < 3; ++dh)
                            for (std::size_t dw = 0; dw < 3; ++dw) {
                                const std::size_t r = oi + dh, q = oj + dw;  // padded coordinates
                                if (r < k.padding.h || r - k.padding.h >= k.height || q < k.padding.w ||
                                    q - k.padding.w >= k.width)
                                    continue;
                                const std::size_t xi =
                                    ((n * k.channels + c) * k.height + r - k.padding.h) * k.width + q -
                                    k.padding.w;
                                const std::size_t wi = ((o * k.channels + c) * 3 + dh) * 3 + dw;
                                exact[wi] += double(dy[i]) * x[xi];
                                exact_dx[xi] += double(dy[i]) * w[wi];
                            }
                }
        std::vector<float> exact_f(exact.begin(), exact.end()), exact_dx_f(exact_dx.begin(), exact_dx.end());
        std::vector<float> ws(op::workspace_size(conv, {}, in, k.batch));
        for (unsigned threads : {1u, 2u}) {
            set_num_threads(threads);
            for (bool by_window : {false, true}) {
                INFO("threads " << threads << ", by window " << by_window);
                std::vector<float> dw(w.size(), 5.f), db(k.out_channels, 5.f), dx(x.size(), 5.f);
                kernels::detail::winograd_pool_backward(
                    s, x.data(), w.data(), dy.data(), ran.y.data(), at.data(), dw.data(), db.data(),
                    kernels::write::overwrite, dx.data(), kernels::write::overwrite, ws.data(), by_window);
                // Measured: by window within 3e-6 of the exact sums, through Winograd's transforms
                // within 2e-5 (its sums go through halves and quarters of the taps). Without
                // AVX-512F both runs take the transforms.
                const double within = by_window && kernels::detail::avx512_available() ? 1e-5 : 5e-5;
                CHECK(worst(dw, exact_f) < within);
                CHECK(worst(dx, exact_dx_f) < within);
                // dx alone (frozen weights), added onto what was there.
                std::vector<float> onto(x.size(), 1.f);
                kernels::detail::winograd_pool_backward(
                    s, x.data(), w.data(), dy.data(), ran.y.data(), at.data(), static_cast<float*>(nullptr),
                    static_cast<float*>(nullptr), kernels::write::overwrite, onto.data(),
                    kernels::write::accumulate, ws.data(), by_window);
                for (float& v : onto) v -= 1.f;
                CHECK(worst(onto, exact_dx_f) < within);
            }
        }
    }
    set_num_threads(2);
}

TEST_CASE("the fused pass takes only what it fits", "[kernels][conv_relu_pool]") {
    using op = ops::conv_relu_max_pool2d;
    const ops::dims in{1, 28, 28}, many{4, 28, 28};
    const ops::conv2d_options conv{.in_channels = 1, .out_channels = 8, .kernel_size = 3, .padding = 1};
    CHECK(op::fits(conv, {}, in));
    CHECK(op::direct(conv, {}, in));
    auto wide = conv;  // 4 channels, 36 taps: Winograd's pass
    wide.in_channels = 4;
    CHECK_FALSE(op::direct(wide, {}, many));
    CHECK(op::fits(wide, {}, many));
    auto five = wide;  // 5x5 on 4 channels: neither
    five.kernel_size = 5;
    five.padding = 2;
    CHECK_FALSE(op::fits(five, {}, many));
    auto odd = wide;  // an odd output: a tile would hang over its window
    odd.padding = 0;
    CHECK_FALSE(op::fits(odd, {}, {4, 27, 27}));
    auto strided = conv;
    strided.stride = 2;
    CHECK_FALSE(op::fits(strided, {}, in));
    CHECK_FALSE(op::fits(conv, {.kernel_size = 3, .stride = 2}, in));
    CHECK_FALSE(op::fits(conv, {.kernel_size = 2, .padding = 1}, in));
    // ceil_mode keeps flat indices in the pooling, and may pool a last partial window: not fused.
    CHECK_FALSE(op::fits(conv, {.ceil_mode = true}, in));
    auto unpadded = conv;  // 26x26, the direct pass
    unpadded.padding = 0;
    CHECK(op::direct(unpadded, {}, in));
}
