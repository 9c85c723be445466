// Suite `graph`: after the first step at a batch size, a training step (forward, loss, backward,
// optimiser step) performs no heap allocation, and an inference_model's forward none at all, on any
// thread and in any library (OpenBLAS included); counted by test/support/allocation_counter.hpp,
// which sees the malloc family and every operator new. Each case warms up what it needs itself;
// Meson runs each on its own, at 1 and at 2 threads (test/graph/meson.build).
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

// Meson runs each case on its own (by its tag), once with KATACHI_NUM_THREADS=1 and once with 2.
void check_thread_count() {
    if (const char* env = std::getenv("KATACHI_NUM_THREADS")) CHECK(get_num_threads() == std::atoi(env));
}

TEST_CASE("a LeNet training step with sgd allocates nothing after the first", "[lenet_training]") {
    check_thread_count();
    CHECK(allocations_in_steps<test::models::lenet, optim::sgd<float>>(
              16, optim::sgd_options{.lr = 0.01, .momentum = 0.9}) == 0);
    CHECK(allocations_in_steps<test::models::lenet, optim::sgd<float>>(1, optim::sgd_options{.lr = 0.01}) == 0);
}

TEST_CASE("a residual block with batch norm trains with adam without allocating after the first step",
          "[resblock_training]") {
    check_thread_count();
    CHECK(allocations_in_steps<test::models::resblock, optim::adam<float>>(4, optim::adam_options{}) == 0);
    CHECK(allocations_in_steps<test::models::resblock, optim::adam<float>>(1, optim::adam_options{}) == 0);
    CHECK(allocations_in_steps<test::models::resblock, optim::adam<float>>(64, optim::adam_options{}) == 0);
}

// Its input gradients are products of 50 x 50 at batch 4, the size OpenBLAS gives its small-matrix
// kernel, which allocates on AVX-512 machines; katachi runs such products itself (kernels/gemm.hpp).
TEST_CASE("an MLP of small products trains without allocating after the first step", "[mlp_training]") {
    check_thread_count();
    using net = graph::sequential<graph::input<8>, graph::linear<50>, graph::relu, graph::linear<50>,
                                  graph::relu, graph::linear<3>>;
    CHECK(allocations_in_steps<net, optim::sgd<float>>(4, optim::sgd_options{.lr = 0.1}) == 0);
    CHECK(allocations_in_steps<test::models::tiny_mlp, optim::sgd<float>>(1, optim::sgd_options{.lr = 0.1}) ==
          0);
}

TEST_CASE("an MLP with dropout and batch norm trains without allocating after the first step",
          "[mlp_bn_training]") {
    check_thread_count();
    using net = graph::sequential<graph::input<20>, graph::linear<32>, graph::batch_norm1d, graph::relu,
                                  graph::dropout<1, 5>, graph::linear<5>>;
    CHECK(allocations_in_steps<net, optim::sgd<float>>(8, optim::sgd_options{.lr = 0.1}) == 0);
    CHECK(allocations_in_steps<net, optim::sgd<float>>(64, optim::sgd_options{.lr = 0.1}) == 0);
}

// An inference_model reserves what it needs when it is built (the pool's workers and their scratch):
// from then on no forward allocates, the first one included, at batch 1 and at its largest batch.
template <class Net>
void check_inference_allocates_nothing() {
    auto runner = std::make_unique<graph::inference_model<Net, float, 64>>();
    graph::model<Net> trained(5);
    runner->load(trained);
    using S = typename Net::input_shape;
    const auto input = [](std::size_t batch) {
        std::array<std::size_t, 1 + S::rank> dims{batch};
        for (std::size_t i = 0; i < S::rank; ++i) dims[i + 1] = S::dims[i];
        xt::xtensor<float, 1 + S::rank> x(dims);
        generator gen(batch);
        for (auto& v : x) v = gen.uniform<float>();
        return x;
    };
    const auto one = input(1), many = input(64);
    float sums[4] = {};
    const std::size_t before = test::allocation_count();
    sums[0] = runner->forward(one)(0, 0);
    sums[1] = runner->forward(many)(63, 0);
    sums[2] = runner->forward(one)(0, 0);
    sums[3] = runner->forward(many)(63, 0);
    CHECK(test::allocation_count() - before == 0);
    CHECK(sums[0] == sums[2]);
    CHECK(sums[1] == sums[3]);
    check_thread_count();  // last: asking starts the pool, which the model must have done itself
}

TEST_CASE("LeNet inference allocates nothing, from its first forward, at batch 1 and 64", "[lenet_inference]") {
    check_inference_allocates_nothing<test::models::lenet>();
}

TEST_CASE("residual DAG inference allocates nothing, from its first forward, at batch 1 and 64",
          "[resblock_inference]") {
    check_inference_allocates_nothing<test::models::resblock>();
}

TEST_CASE("inference of an MLP with batch norm allocates nothing, from its first forward, at batch 1 and 64",
          "[mlp_bn_inference]") {
    check_inference_allocates_nothing<test::models::mlp_bn>();
}

TEST_CASE("inference of an MLP whose products split over the threads allocates nothing, from its first forward",
          "[mlp_inference]") {
    check_inference_allocates_nothing<test::models::mlp>();
}

TEST_CASE("the allocation counter sees operator new and delete in every form, malloc, free and their relatives",
          "[counter]") {
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
