// The single-threaded build of katachi/parallel.hpp (KATACHI_THREADS 0), on the host: the
// configuration a bare-metal image gets by itself (its C++ library has no threads), chosen here by
// hand so that it is tested in every build, with or without the cross compiler.
#include <catch2/catch.hpp>
#include <katachi/graph.hpp>
#include <katachi/parallel.hpp>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>
#include <xtensor/xarray.hpp>

static_assert(KATACHI_THREADS == 0, "this test is built with -DKATACHI_THREADS=0");

TEST_CASE("a single-threaded build has one thread and accepts only 1", "[parallel][single-thread]") {
    CHECK(katachi::get_num_threads() == 1);
    katachi::set_num_threads(1);
    CHECK(katachi::get_num_threads() == 1);
    CHECK_THROWS_AS(katachi::set_num_threads(2), std::invalid_argument);
    CHECK_THROWS_AS(katachi::set_num_threads(0), std::invalid_argument);
    CHECK(katachi::get_num_threads() == 1);
}

TEST_CASE("a single-threaded build runs every part on the caller, in order", "[parallel][single-thread]") {
    const auto caller = std::this_thread::get_id();
    std::vector<std::size_t> seen;
    std::vector<unsigned> parts;
    katachi::detail::parallel_for(10, 4, [&](std::size_t begin, std::size_t end, unsigned part) {
        CHECK(std::this_thread::get_id() == caller);
        CHECK(katachi::detail::parallel_parts(100) == 1);  // work nested in a part stays in it
        parts.push_back(part);
        for (std::size_t i = begin; i < end; ++i) seen.push_back(i);
    });
    std::vector<std::size_t> all(10);
    std::iota(all.begin(), all.end(), std::size_t{0});
    CHECK(seen == all);
    CHECK(parts == std::vector<unsigned>{0, 1, 2, 3});
    CHECK(katachi::detail::parallel_parts(100) == 1);

    // One thread's results are its own: deterministic mode keeps every job in one part, so no part
    // ever needs scratch of its own (which would need the heap).
    katachi::set_deterministic(true);
    CHECK(katachi::detail::parallel_parts(100) == 1);
    katachi::set_deterministic(false);

    // There is no per-thread scratch to ask for: asking is a bug, reported.
    struct tag {};
    CHECK(katachi::detail::thread_scratch<float, tag>(0) == nullptr);
    CHECK_THROWS_AS((katachi::detail::thread_scratch<float, tag>(16)), std::logic_error);
}

TEST_CASE("the graph face runs in a single-threaded build", "[parallel][single-thread][graph]") {
    using namespace katachi::graph;
    using tiny_mlp = sequential<input<4>, linear<16>, relu, linear<3>>;
    model<tiny_mlp> trained(3);
    trained.eval();
    const xt::xarray<float> x = {{1.0f, -0.5f, 0.25f, 2.0f}, {-1.0f, 0.75f, 1.5f, -0.25f}};
    const xt::xarray<float> expected = trained.forward(x);
    inference_model<tiny_mlp, float, 2> net;
    net.load(trained);
    const xt::xarray<float> got = net.forward(x);
    REQUIRE(got.shape() == expected.shape());
    CHECK(xt::allclose(got, expected, 1e-6, 1e-7));
}
