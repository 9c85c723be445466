// A training loop frees its tape every step: 10,000 steps of a small MLP keep the heap in use flat
// and the live-node count returns to the same value after every step. Large blocks go through the
// storage cache (katachi/eager/memory.hpp).
#include <malloc.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <katachi/eager.hpp>
#include <katachi/optim/sgd.hpp>

#include "support/allocation_counter.hpp"  // KATACHI_TEST_ASAN and the sanitizer's interface

using namespace katachi;
namespace nn = katachi::eager::nn;
using eager::tensor;

namespace {
// Bytes the program holds on the heap now. Under AddressSanitizer, from its allocator (the resident
// size there also counts the quarantine of freed blocks, which grows by design); otherwise from
// glibc's malloc statistics (blocks in use, small and mapped).
std::size_t heap_bytes_in_use() {
#ifdef KATACHI_TEST_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    const struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
#endif
}
}  // namespace

TEST_CASE("10,000 training steps keep memory flat and return the live nodes after every step",
          "[eager][memory]") {
    eager::manual_seed(1);
    nn::sequential model(nn::linear({8, 32}), nn::relu(), nn::linear({32, 32}), nn::relu(),
                         nn::linear({32, 4}));
    optim::sgd<float> opt(nn::optimiser_parameters(model), {.lr = 0.01, .momentum = 0.9});
    const tensor x = eager::rand({16, 8});
    const std::vector<std::int64_t> y{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
    const std::size_t nodes = eager::live_nodes();
    eager::loss_meter meter;
    std::size_t heap_at_100 = 0, steps_with_leftover_nodes = 0;
    for (int step = 1; step <= 10'000; ++step) {
        opt.zero_grad();
        const tensor loss = eager::cross_entropy(model(x), y);
        loss.backward();
        opt.step();
        meter.add(loss.item(), y.size());
        steps_with_leftover_nodes += eager::live_nodes() != nodes + 1;  // + the root, held by `loss`
        if (step == 100) heap_at_100 = heap_bytes_in_use();
    }
    CHECK(steps_with_leftover_nodes == 0);
    CHECK(eager::live_nodes() == nodes);
    const std::size_t heap_at_end = heap_bytes_in_use();
    INFO("heap in use at step 100: " << heap_at_100 << " bytes, at step 10,000: " << heap_at_end);
    CHECK(heap_at_end < heap_at_100 + (1u << 20));
    CHECK(meter.count() == 160'000);
    CHECK(meter.mean() < 1.4);  // below ln 4: it learnt something
}

TEST_CASE("summing loss tensors keeps every step's tape alive, which the meter avoids", "[eager][memory]") {
    nn::linear model({4, 1});
    const tensor x = eager::rand({8, 4}), t = eager::rand({8, 1});
    const std::size_t nodes = eager::live_nodes();
    tensor total = tensor::scalar(0);
    for (int step = 0; step < 10; ++step) total = total + eager::mse_loss(model(x), t);  // the pitfall
    CHECK(eager::live_nodes() >= nodes + 30);
    total = {};
    CHECK(eager::live_nodes() == nodes);
    eager::loss_meter meter;
    for (int step = 0; step < 10; ++step) meter.add(eager::mse_loss(model(x), t).item());
    CHECK(eager::live_nodes() == nodes);
    CHECK(meter.count() == 10);
}

TEST_CASE("a freed large tensor's block serves the next tensor of its size, and empty_cache returns it",
          "[eager][memory]") {
    eager::empty_cache();
    const std::size_t limit = eager::cache_limit();
    const eager::sizes large{256, 32, 28, 28};  // a LeNet activation at batch 256: 25.7 MB
    const float* first = nullptr;
    {
        const tensor a = tensor::zeros(large);
        first = a.data();
        CHECK(reinterpret_cast<std::uintptr_t>(first) % 64 == 0);
        CHECK(eager::cached_bytes() == 0);
    }
    CHECK(eager::cached_bytes() >= large.numel() * sizeof(float));
    {
        const tensor b = tensor::ones(large);
        CHECK(b.data() == first);  // the same block, without a trip to the system
        CHECK(eager::cached_bytes() == 0);
        CHECK(eager::sum(b).item() == static_cast<float>(large.numel()));
        // A smaller request than an eighth below the block does not take it.
        const tensor c = tensor::zeros({large.numel() / 2});
        CHECK(c.data() != first);
    }
    CHECK(eager::cached_bytes() >= large.numel() * sizeof(float));
    eager::empty_cache();
    CHECK(eager::cached_bytes() == 0);

    // Small tensors are never held, and a limit of 0 turns the cache off.
    { const tensor small = tensor::zeros({100}); }
    CHECK(eager::cached_bytes() == 0);
    eager::set_cache_limit(0);
    { const tensor a = tensor::zeros(large); }
    CHECK(eager::cached_bytes() == 0);
    // A limit below what is held frees the largest blocks first.
    eager::set_cache_limit(limit);
    {
        const tensor a = tensor::zeros({1u << 20}), b = tensor::zeros({1u << 18});
    }
    CHECK(eager::cached_bytes() == (std::size_t{1} << 22) + (std::size_t{1} << 20));
    eager::set_cache_limit(std::size_t{2} << 20);
    CHECK(eager::cached_bytes() == std::size_t{1} << 20);
    eager::set_cache_limit(limit);
    eager::empty_cache();
}
