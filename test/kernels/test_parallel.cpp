// katachi's thread pool (katachi/parallel.hpp) and the kernels that split their work over it: every
// item is run once, errors come back to the caller, nesting and concurrent callers do not deadlock,
// and a kernel's result does not depend on the thread count (bit for bit where each output element
// is computed by one thread; to rounding where partial sums are added, as in a weight gradient).
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <katachi/kernels/conv2d.hpp>
#include <katachi/kernels/linear.hpp>
#include <katachi/kernels/max_pool2d.hpp>
#include <katachi/kernels/relu.hpp>
#include <katachi/parallel.hpp>
#include <katachi/random.hpp>
#include <stdexcept>
#include <support/checks.hpp>
#include <thread>
#include <vector>
#include <xtensor/xarray.hpp>

namespace k = katachi::kernels;
using katachi::test::max_abs_diff;
using katachi::test::message_of;

namespace {

// Restores the thread count a test changed.
struct thread_count_guard {
    int saved = katachi::get_num_threads();
    ~thread_count_guard() { katachi::set_num_threads(saved); }
};

xt::xarray<float> random_array(std::vector<std::size_t> shape, std::uint64_t seed) {
    xt::xarray<float> a(shape);
    katachi::generator gen(seed);
    for (auto& v : a) v = gen.uniform<float>() * 2.0f - 1.0f;
    return a;
}

xt::xarray<float> zeros(std::vector<std::size_t> shape) { return xt::xarray<float>(shape, 0.0f); }

bool same(const xt::xarray<float>& a, const xt::xarray<float>& b) { return a == b; }

double max_abs(const xt::xarray<float>& a) {
    double m = 0;
    for (float v : a) m = std::max(m, std::abs(static_cast<double>(v)));
    return m;
}

}  // namespace

TEST_CASE("set_num_threads refuses fewer than one thread and names the count", "[parallel]") {
    const thread_count_guard guard;
    CHECK_THROWS_AS(katachi::set_num_threads(0), std::invalid_argument);
    CHECK(message_of([] { katachi::set_num_threads(-3); }).find("-3 threads") != std::string::npos);
    katachi::set_num_threads(3);
    CHECK(katachi::get_num_threads() == 3);
    katachi::set_num_threads(1);
    CHECK(katachi::get_num_threads() == 1);
}

TEST_CASE("parallel_for runs every item exactly once for any item and thread count", "[parallel]") {
    const thread_count_guard guard;
    for (int threads : {1, 2, 3, 5}) {
        katachi::set_num_threads(threads);
        for (std::size_t n : {0u, 1u, 2u, 3u, 7u, 64u, 1000u}) {
            std::vector<std::atomic<int>> seen(n);
            std::atomic<unsigned> parts_seen{0};
            const unsigned parts = katachi::detail::parallel_parts(n);
            CHECK(parts <= static_cast<unsigned>(threads));
            katachi::detail::parallel_for(n, parts, [&](std::size_t begin, std::size_t end, unsigned part) {
                CHECK(part < std::max(parts, 1u));
                parts_seen.fetch_add(1);
                for (std::size_t i = begin; i < end; ++i) seen[i].fetch_add(1);
            });
            for (std::size_t i = 0; i < n; ++i) CHECK(seen[i].load() == 1);
            CHECK(parts_seen.load() == (n == 0 ? 0u : std::max(parts, 1u)));
        }
    }
}

TEST_CASE("an exception thrown in any part reaches the caller and the pool keeps working", "[parallel]") {
    const thread_count_guard guard;
    katachi::set_num_threads(2);
    for (unsigned failing : {0u, 1u}) {
        CHECK_THROWS_WITH(katachi::detail::parallel_for(10, 2,
                                                        [&](std::size_t, std::size_t, unsigned part) {
                                                            if (part == failing)
                                                                throw std::runtime_error("part failed");
                                                        }),
                          "part failed");
        std::atomic<int> sum{0};
        katachi::detail::parallel_for(10, 2, [&](std::size_t b, std::size_t e, unsigned) {
            sum.fetch_add(static_cast<int>(e - b));
        });
        CHECK(sum.load() == 10);
    }
}

TEST_CASE("parallel work started inside a part, or from two application threads, completes", "[parallel]") {
    const thread_count_guard guard;
    katachi::set_num_threads(2);
    std::atomic<int> inner{0};
    katachi::detail::parallel_for(4, 2, [&](std::size_t b, std::size_t e, unsigned) {
        for (std::size_t i = b; i < e; ++i)
            katachi::detail::parallel_for(8, katachi::detail::parallel_parts(8),
                                          [&](std::size_t ib, std::size_t ie, unsigned) {
                                              inner.fetch_add(static_cast<int>(ie - ib));
                                          });
    });
    CHECK(inner.load() == 32);

    // Two threads of the application call a threaded kernel at once: both results are right.
    const xt::xarray<float> x = random_array({64, 8, 12, 12}, 1), w = random_array({16, 8, 3, 3}, 2);
    xt::xarray<float> expected = zeros({64, 16, 10, 10});
    k::conv2d_forward(x, w, k::none, expected);
    std::vector<xt::xarray<float>> got(2, zeros({64, 16, 10, 10}));
    {
        std::vector<std::thread> callers;
        for (int t = 0; t < 2; ++t)
            callers.emplace_back([&, t] {
                for (int r = 0; r < 20; ++r) k::conv2d_forward(x, w, k::none, got[static_cast<std::size_t>(t)]);
            });
        for (auto& c : callers) c.join();
    }
    CHECK(same(got[0], expected));
    CHECK(same(got[1], expected));
}

TEST_CASE("conv2d gives the same result on one, two and three threads", "[parallel][conv2d]") {
    const thread_count_guard guard;
    // Batch 7 does not split evenly; 5x5 images put several samples into one GEMM.
    for (std::size_t hw : {5u, 14u}) {
        const k::conv2d_options opts{.padding = {1, 1}};
        const xt::xarray<float> x = random_array({7, 6, hw, hw}, 3), w = random_array({10, 6, 3, 3}, 4),
                                b = random_array({10}, 5), dy = random_array({7, 10, hw, hw}, 6);
        auto run = [&](int threads) {
            katachi::set_num_threads(threads);
            std::vector<xt::xarray<float>> out{zeros({7, 10, hw, hw}), zeros(katachi::test::dims(x.shape())),
                                               zeros(katachi::test::dims(w.shape())), zeros(katachi::test::dims(b.shape()))};
            k::conv2d_forward(x, w, b, out[0], opts);
            k::conv2d_backward(x, w, dy, out[1], out[2], out[3], opts);
            return out;
        };
        const auto one = run(1);
        for (int threads : {2, 3}) {
            const auto many = run(threads);
            INFO(threads << " threads, " << hw << "x" << hw << " images");
            CHECK(same(many[0], one[0]));  // each output element is one thread's GEMM
            CHECK(same(many[1], one[1]));
            // dw and db add per-thread partial sums: equal to rounding.
            CHECK(max_abs_diff(many[2], one[2]) <= 1e-5 * max_abs(one[2]));
            CHECK(max_abs_diff(many[3], one[3]) <= 1e-5 * max_abs(one[3]));
        }
    }
}

TEST_CASE("a large linear layer split over threads equals the one-thread product", "[parallel][linear]") {
    const thread_count_guard guard;
    for (std::size_t batch : {1u, 64u}) {
        const xt::xarray<float> x = random_array({batch, 600}, 7), w = random_array({300, 600}, 8),
                                b = random_array({300}, 9), dy = random_array({batch, 300}, 10);
        auto run = [&](int threads) {
            katachi::set_num_threads(threads);
            std::vector<xt::xarray<float>> out{zeros({batch, 300}), zeros(katachi::test::dims(x.shape())),
                                               zeros(katachi::test::dims(w.shape())), zeros(katachi::test::dims(b.shape()))};
            k::linear_forward(x, w, b, out[0]);
            k::linear_backward(x, w, dy, out[1], out[2], out[3]);
            return out;
        };
        const auto one = run(1), two = run(2);
        INFO("batch " << batch);
        for (std::size_t i = 0; i < one.size(); ++i)
            CHECK(max_abs_diff(two[i], one[i]) <= 1e-5 * std::max(1.0, max_abs(one[i])));
    }
}

TEST_CASE("max_pool2d and relu on large batches are bit-identical on any thread count", "[parallel]") {
    const thread_count_guard guard;
    const xt::xarray<float> x = random_array({16, 8, 30, 30}, 11), dy = random_array({16, 8, 15, 15}, 12);
    auto run = [&](int threads) {
        katachi::set_num_threads(threads);
        xt::xarray<float> y = zeros({16, 8, 15, 15}), dx = zeros(katachi::test::dims(x.shape())),
                          r = zeros(katachi::test::dims(x.shape())), dr = zeros(katachi::test::dims(x.shape()));
        xt::xarray<std::int64_t> idx(std::vector<std::size_t>{16, 8, 15, 15}, 0);
        k::max_pool2d_forward(x, y, idx, {.kernel_size = {2, 2}});
        k::max_pool2d_backward(dy, idx, dx);
        k::relu_forward(x, r);
        k::relu_backward(r, x, dr);
        return std::vector<xt::xarray<float>>{y, dx, r, dr};
    };
    const auto one = run(1);
    for (int threads : {2, 3}) {
        const auto many = run(threads);
        for (std::size_t i = 0; i < one.size(); ++i) CHECK(same(many[i], one[i]));
    }
}

TEST_CASE("max_pool2d_backward reports a bad index from whichever thread meets it", "[parallel]") {
    const thread_count_guard guard;
    katachi::set_num_threads(2);
    const xt::xarray<float> dy = random_array({16, 8, 15, 15}, 13);
    xt::xarray<std::int64_t> idx(std::vector<std::size_t>{16, 8, 15, 15}, 0);
    idx(15, 7, 14, 14) = 10'000;  // in the last plane: the worker's part
    xt::xarray<float> dx = zeros({16, 8, 30, 30});
    CHECK(message_of([&] { k::max_pool2d_backward(dy, idx, dx); }).find("index 10000") != std::string::npos);
}

namespace {
// Turns deterministic mode on for a test's life.
struct deterministic_guard {
    deterministic_guard() { katachi::set_deterministic(true); }
    ~deterministic_guard() { katachi::set_deterministic(false); }
};
}  // namespace

TEST_CASE("in deterministic mode a job is cut into the same parts on any thread count, each run once",
          "[parallel][deterministic]") {
    const thread_count_guard guard;
    const deterministic_guard on;
    for (int threads : {1, 2, 3}) {
        katachi::set_num_threads(threads);
        INFO(threads << " threads");
        CHECK(katachi::detail::parallel_parts(1000) == katachi::detail::deterministic_parts);
        CHECK(katachi::detail::parallel_parts(3) == 3);
        std::vector<std::atomic<int>> seen(katachi::detail::deterministic_parts);
        std::atomic<int> nested_parts{0};
        katachi::detail::parallel_for(100, katachi::detail::parallel_parts(100),
                                      [&](std::size_t begin, std::size_t end, unsigned part) {
                                          seen[part] += 1;
                                          CHECK(begin == 100 * part / 8);
                                          CHECK(end == 100 * (part + 1) / 8);
                                          nested_parts += static_cast<int>(katachi::detail::parallel_parts(50));
                                      });
        for (auto& s : seen) CHECK(s == 1);
        CHECK(nested_parts == 8);  // work nested in a part stays in one part, on any thread count
    }
    katachi::set_deterministic(false);
    katachi::set_num_threads(2);
    CHECK(katachi::detail::parallel_parts(1000) == 2);
}

TEST_CASE("in deterministic mode conv2d's gradients are bit-identical on one, two and three threads",
          "[parallel][deterministic][conv2d]") {
    const thread_count_guard guard;
    const deterministic_guard on;
    // 14x14 with 16 channels runs on Winograd, 5x5 on the im2col lowering; batch 29 splits unevenly.
    for (std::size_t hw : {5u, 14u}) {
        const k::conv2d_options opts{.padding = {1, 1}};
        const xt::xarray<float> x = random_array({29, 16, hw, hw}, 3), w = random_array({16, 16, 3, 3}, 4),
                                b = random_array({16}, 5), dy = random_array({29, 16, hw, hw}, 6);
        auto run = [&](int threads) {
            katachi::set_num_threads(threads);
            std::vector<xt::xarray<float>> out{zeros(katachi::test::dims(x.shape())),
                                               zeros(katachi::test::dims(w.shape())), zeros(katachi::test::dims(b.shape()))};
            k::conv2d_backward(x, w, dy, out[0], out[1], out[2], opts);
            return out;
        };
        const auto one = run(1);
        for (int threads : {2, 3}) {
            const auto many = run(threads);
            INFO(threads << " threads, " << hw << "x" << hw << " images");
            CHECK(same(many[0], one[0]));
            CHECK(same(many[1], one[1]));
            CHECK(same(many[2], one[2]));
        }
    }
}

namespace {

// 1e-30 * 1e-10, computed at run time: a denormal (about 1e-40), or zero when flushed.
float denormal_product() {
    volatile float a = 1e-30f, b = 1e-10f;
    return a * b;
}

// Each thread's result of denormal_product: the caller's first, then one per worker.
std::vector<float> products_on_every_thread() {
    auto& pool = katachi::detail::thread_pool::instance();
    std::vector<float> out(pool.threads(), -1.0f);
    pool.run(pool.threads(), [&](unsigned i) { out[i] = denormal_product(); });
    return out;
}

struct flush_denormal_guard {
    ~flush_denormal_guard() { katachi::set_flush_denormal(false); }
};

}  // namespace

TEST_CASE("flush-denormal mode turns denormal results into zero on the caller and on every worker",
          "[parallel][denormal]") {
    thread_count_guard threads;
    flush_denormal_guard restore;
    katachi::set_num_threads(2);
    REQUIRE(denormal_product() > 0.0f);  // denormals by default
#if defined(__x86_64__)
    REQUIRE(katachi::set_flush_denormal(true));
    for (float v : products_on_every_thread()) CHECK(v == 0.0f);
    CHECK(denormal_product() == 0.0f);

    // A worker started later takes the mode too.
    katachi::set_num_threads(1);
    katachi::set_num_threads(2);
    for (float v : products_on_every_thread()) CHECK(v == 0.0f);

    REQUIRE(katachi::set_flush_denormal(false));
    for (float v : products_on_every_thread()) CHECK(v > 0.0f);
    CHECK(denormal_product() > 0.0f);
#else
    CHECK_FALSE(katachi::set_flush_denormal(true));  // no such mode: nothing changes
    CHECK(denormal_product() > 0.0f);
#endif
}
