// Suite `graph`: after the first step at a batch size, a training step (forward, loss, backward,
// optimiser step) performs no heap allocation, on any thread and in any library (OpenBLAS
// included); counted by test/support/allocation_counter.hpp, which sees malloc and every
// operator new. Each case warms up what it needs itself, so the cases pass in any order and alone.
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <katachi/optim/adam.hpp>
#include <katachi/parallel.hpp>
#include <katachi/optim/sgd.hpp>
#include <memory>
#include <new>
#include <thread>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "graph/models.hpp"
#include "support/allocation_counter.hpp"

namespace {

using namespace katachi;

template <class Net, class Optimiser, class Options>
std::size_t allocations_in_steps(std::size_t batch, Options options, bool dropout_seeded = false) {
    graph::model<Net> m(1);
    Optimiser opt(m.parameters(), options);
    xt::xtensor<float, 1 + Net::input_shape::rank> x = [&] {
        std::array<std::size_t, 1 + Net::input_shape::rank> dims{batch};
        for (std::size_t i = 0; i < Net::input_shape::rank; ++i) dims[i + 1] = Net::input_shape::dims[i];
        return xt::xtensor<float, 1 + Net::input_shape::rank>(dims);
    }();
    generator gen(3);
    for (auto& v : x) v = gen.uniform<float>();
    xt::xtensor<std::int64_t, 1> labels(std::array<std::size_t, 1>{batch});
    for (std::size_t i = 0; i < batch; ++i)
        labels(i) = static_cast<std::int64_t>(i % Net::output_shape::dims[0]);
    (void)dropout_seeded;
    const auto step = [&] {
        m.forward(x);
        m.cross_entropy(labels);
        m.backward();
        opt.step();
    };
    step();  // sizes the workspace and the optimiser's state
    const std::size_t before = test::allocation_count();
    for (int i = 0; i < 3; ++i) step();
    return test::allocation_count() - before;
}

TEST_CASE("a LeNet training step with sgd allocates nothing after the first", "[graph][memory]") {
    CHECK(allocations_in_steps<test::models::lenet, optim::sgd<float>>(
              16, optim::sgd_options{.lr = 0.01, .momentum = 0.9}) == 0);
}

TEST_CASE("a residual block with batch norm trains with adam without allocating after the first step",
          "[graph][memory]") {
    CHECK(allocations_in_steps<test::models::resblock, optim::adam<float>>(4, optim::adam_options{}) == 0);
}

// Its input gradients are products of 50 x 50 at batch 4, the size OpenBLAS gives its small-matrix
// kernel, which allocates on AVX-512 machines; katachi runs such products itself (kernels/gemm.hpp).
TEST_CASE("an MLP of small products trains without allocating after the first step", "[graph][memory]") {
    using net = graph::sequential<graph::input<8>, graph::linear<50>, graph::relu, graph::linear<50>,
                                  graph::relu, graph::linear<3>>;
    CHECK(allocations_in_steps<net, optim::sgd<float>>(4, optim::sgd_options{.lr = 0.1}) == 0);
}

TEST_CASE("an MLP with dropout and batch norm trains without allocating after the first step",
          "[graph][memory]") {
    using net = graph::sequential<graph::input<20>, graph::linear<32>, graph::batch_norm1d, graph::relu,
                                  graph::dropout<1, 5>, graph::linear<5>>;
    CHECK(allocations_in_steps<net, optim::sgd<float>>(8, optim::sgd_options{.lr = 0.1}) == 0);
}

TEST_CASE("a one-sample training step of the tiny MLP allocates nothing after the first", "[graph][memory]") {
    CHECK(allocations_in_steps<test::models::tiny_mlp, optim::sgd<float>>(1, optim::sgd_options{.lr = 0.1}) ==
          0);
}

// The pool's workers keep scratch of their own (katachi/parallel.hpp), grown at their first
// convolution and reused from then on; the first forward at each batch size is the warm-up.
TEST_CASE("inference from the fixed arena allocates nothing after its first forward", "[graph][memory]") {
    auto runner = std::make_unique<graph::inference_model<test::models::lenet, float, 2>>();
    xt::xtensor<float, 4> x(std::array<std::size_t, 4>{2, 1, 28, 28}),
        one(std::array<std::size_t, 4>{1, 1, 28, 28});
    x.fill(0.5f);
    one.fill(0.25f);
    const float warm = runner->forward(x)(0, 0) + runner->forward(one)(0, 0);
    const std::size_t before = test::allocation_count();
    const float first = runner->forward(x)(0, 0) + runner->forward(one)(0, 0);
    CHECK(test::allocation_count() - before == 0);
    CHECK(first == warm);
}

TEST_CASE("the allocation counter sees operator new and delete in every form, malloc, free and their relatives",
          "[graph][memory]") {
    // The compiler may drop a new-expression whose result is unused; this keeps it.
    const auto keep = [](void* p) {
        asm volatile("" : : "r"(p) : "memory");
        return p;
    };
    const auto counted = [](auto&& allocate) {
        const std::size_t before = test::allocation_count();
        allocate();
        return test::allocation_count() - before;
    };
    CHECK(counted([&] { delete static_cast<std::vector<int>*>(keep(new std::vector<int>(100))); }) >= 2);
    CHECK(counted([&] { delete static_cast<int*>(keep(new (std::nothrow) int(3))); }) == 1);
    CHECK(counted([&] { delete[] static_cast<int*>(keep(new int[9])); }) == 1);
    struct alignas(128) wide {
        float v[32];
    };
    CHECK(counted([&] { delete static_cast<wide*>(keep(new wide)); }) == 1);
    CHECK(counted([&] { std::free(keep(std::malloc(24))); }) == 1);
    CHECK(counted([&] { std::free(keep(std::calloc(3, 8))); }) == 1);
    CHECK(counted([&] { std::free(keep(std::aligned_alloc(64, 256))); }) == 1);
    CHECK(counted([&] {
              void* p = nullptr;
              REQUIRE(::posix_memalign(&p, 64, 100) == 0);
              std::free(keep(p));
          }) == 1);
    CHECK(counted([&] { std::thread([&] { std::free(keep(std::malloc(40))); }).join(); }) >= 1);
    test::reset_largest_allocation();
    std::free(keep(std::malloc(12345)));
    CHECK(test::largest_allocation() >= 12345);
    // Frees are counted too, through every delete form.
    const auto freed = [](auto&& release) {
        const std::size_t before = test::deallocation_count();
        release();
        return test::deallocation_count() - before;
    };
    int* one = static_cast<int*>(keep(new int(1)));
    CHECK(freed([&] { delete one; }) == 1);  // the sized form where the compiler uses it (g++)
    wide* aligned = static_cast<wide*>(keep(new wide));
    CHECK(freed([&] { delete aligned; }) == 1);  // aligned
    int* many = static_cast<int*>(keep(new int[5]));
    CHECK(freed([&] { delete[] many; }) == 1);
    void* block = keep(std::malloc(8));
    CHECK(freed([&] { std::free(block); }) == 1);
    CHECK(freed([] { std::free(nullptr); }) == 0);
}

}  // namespace
