// Suite `distributed` (run by mpirun -np 2): data-parallel training in the graph face equals one
// process's training on the union of the ranks' batches. Each rank starts from another seed, takes
// rank 0's parameters by broadcast, trains 10 SGD-with-momentum steps at batch 32 on its shard and
// averages the gradients; beside it, the same process trains one model at batch 64 on the whole
// set. The two must agree to 1e-5 on every parameter, on every rank, for each way of averaging:
// average_gradients after the backward, and data_parallel's compile-time bucket plan with its
// all-reduces overlapping the backward or after it. The ranks' confusion matrices over their
// shards, summed, must be the one over the whole set; and the ranks' shards of an epoch, counted
// across ranks, must cover it (disjoint when it divides evenly; padded or cut as PyTorch's
// DistributedSampler otherwise), the same for the same seed and epoch.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <katachi/data.hpp>
#include <katachi/distributed.hpp>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <string>
#include <vector>

namespace {

using namespace katachi;
using mlp = graph::sequential<graph::input<20>, graph::linear<32>, graph::relu, graph::linear<5>>;
using convnet = graph::sequential<graph::input<2, 2, 5>, graph::conv2d<4, 3, graph::padding<1>>, graph::relu,
                                  graph::flatten, graph::linear<16>, graph::relu, graph::linear<5>>;
// Caps of 0 MiB: every node with parameters is a bucket of its own (three for convnet).
constexpr graph::bucket_options one_per_node{.bucket_cap_mb = 0, .first_bucket_cap_mb = 0};

data::tensor_dataset<float> samples(std::vector<std::size_t> shape) {
    std::vector<float> x;
    std::vector<std::int64_t> y;
    generator gen(7);
    for (std::size_t i = 0; i < 640; ++i) {
        for (std::size_t k = 0; k < 20; ++k) x.push_back(gen.uniform<float>(-1.0f, 1.0f));
        y.push_back(static_cast<std::int64_t>(gen() % 5));
    }
    return data::tensor_dataset<float>(std::move(x), std::move(shape), std::move(y));
}

// 10 steps; `backward(m)` runs the backward and whatever averaging is being tested.
template <class Model, class Backward>
void train(Model& m, data::data_loader<float>& loader, Backward backward) {
    optim::sgd<float> opt(m.parameters(), {.lr = 0.05, .momentum = 0.9});
    for (const auto& b : loader) {
        m.forward(b.input());
        m.cross_entropy(b.targets());
        backward(m);
        opt.step();
    }
}

struct world {
    std::size_t rank, size;
    int failures = 0;
};

// Trains `parallel` on this rank's shard with `backward`, and a single model on the whole set; both
// must end with the same parameters.
template <class Net, class Prepare>
void compare(world& w, const char* what, const data::tensor_dataset<float>& set, Prepare prepare) {
    graph::model<Net> parallel(/*seed=*/1 + w.rank);  // another start on each rank, until broadcast
    data::data_loader shard(set, {.batch_size = 32, .shuffle = true, .seed = 3, .num_replicas = w.size, .rank = w.rank});
    const std::string extra = prepare(parallel, shard);

    graph::model<Net> single(/*seed=*/1);
    data::data_loader whole(set, {.batch_size = 64, .shuffle = true, .seed = 3});
    train(single, whole, [](auto& m) { m.backward(); });

    const auto a = parallel.all_parameters(), b = single.all_parameters();
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
    const bool ok = shard.size() == 10 && worst <= 1e-5;
    std::printf("rank %zu: %s: %zu steps of 2 x 32 against 1 x 64, largest parameter difference %.3g%s%s\n", w.rank,
                what, shard.size(), worst, extra.c_str(), ok ? "" : "  FAILED (limit 1e-5)");
    w.failures += !ok;
}

// How often each sample of a `n`-sample epoch is taken by some rank, summed over the ranks.
std::vector<std::int64_t> coverage(const world& w, std::size_t n, std::size_t epoch, bool drop_uneven) {
    std::vector<float> x(n, 0.0f);
    std::vector<std::int64_t> y(n, 0);
    const data::tensor_dataset<float> set(std::move(x), {1}, std::move(y));
    data::data_loader loader(set, {.batch_size = 7, .shuffle = true, .seed = 11, .num_replicas = w.size,
                                   .rank = w.rank, .drop_uneven = drop_uneven});
    loader.set_epoch(epoch);
    std::vector<std::int64_t> taken(n, 0);
    for (const auto& b : loader)
        for (std::size_t i : b.indices()) ++taken[i];
    distributed::all_reduce_sum(std::span<std::int64_t>(taken));
    return taken;
}

void check_sampler(world& w) {
    struct expect {
        std::size_t n;
        bool drop_uneven;
        std::int64_t least, most, total;
    };
    // 640 divides evenly: every sample once. 643 pads with one repeat (644 taken); drop_uneven cuts one (642).
    for (const expect e : {expect{640, false, 1, 1, 640}, expect{643, false, 1, 2, 644}, expect{643, true, 0, 1, 642}})
        for (std::size_t epoch : {0, 1}) {
            const auto taken = coverage(w, e.n, epoch, e.drop_uneven);
            const auto [lo, hi] = std::minmax_element(taken.begin(), taken.end());
            std::int64_t total = 0;
            for (auto t : taken) total += t;
            const bool ok = *lo == e.least && *hi == e.most && total == e.total && taken == coverage(w, e.n, epoch, e.drop_uneven);
            if (!ok) {
                std::printf("rank %zu: sampler over %zu samples (drop_uneven %d, epoch %zu): each taken %lld..%lld times, %lld in all; expected %lld..%lld, %lld\n",
                            w.rank, e.n, e.drop_uneven, epoch, static_cast<long long>(*lo), static_cast<long long>(*hi),
                            static_cast<long long>(total), static_cast<long long>(e.least), static_cast<long long>(e.most),
                            static_cast<long long>(e.total));
                ++w.failures;
            }
        }
    std::printf("rank %zu: sampler: shards cover each epoch, disjoint when even, padded or cut as DistributedSampler%s\n",
                w.rank, w.failures ? "  FAILED" : "");
}

}  // namespace

int main(int argc, char** argv) try {
    distributed::context mpi(argc, argv);
    world w{mpi.rank(), mpi.size()};
    if (w.size != 2) {
        std::fprintf(stderr, "rank %zu: run with mpirun -np 2 (got %zu ranks)\n", w.rank, w.size);
        return 1;
    }
    const auto flat = samples({20}), image = samples({2, 2, 5});
    check_sampler(w);

    compare<mlp>(w, "average_gradients", flat, [](auto& m, auto& shard) {
        distributed::broadcast_parameters(m);
        train(m, shard, [](auto& model) {
            model.backward();
            distributed::average_gradients(model);
        });
        return std::string();
    });

    // The planned buckets, overlapped with the backward and after it.
    for (const bool overlap : {true, false}) {
        compare<convnet>(w, overlap ? "data_parallel, 3 buckets, overlapped" : "data_parallel, 3 buckets, after backward",
                         image, [&](auto& m, auto& shard) {
                             using ddp_t = distributed::data_parallel<graph::model<convnet>, one_per_node>;
                             static_assert(ddp_t::plan.count == 3);
                             ddp_t ddp(m, {.overlap = overlap});
                             train(m, shard, [&](auto&) { ddp.backward(); });
                             const auto& s = ddp.comm_stats();
                             if (s.all_reduces != 30 || s.bytes != 10 * convnet::parameter_count * 4 ||
                                 s.backwards != 10 || s.started_in_backward != (overlap ? 30u : 0u)) {
                                 std::printf("rank %zu: %zu all-reduces (%zu during the backward) of %zu bytes in %zu "
                                             "backwards, expected 30 (%d) of %zu in 10\n",
                                             w.rank, s.all_reduces, s.started_in_backward, s.bytes, s.backwards,
                                             overlap ? 30 : 0, 10 * convnet::parameter_count * 4);
                                 ++w.failures;
                             }
                             char line[96];
                             std::snprintf(line, sizeof line, " (%zu all-reduces, %.3f ms waited)", s.all_reduces,
                                           s.wait_seconds * 1e3);
                             return std::string(line);
                         });
    }
    // The default plan (everything under 1 MiB: one bucket) in the same way.
    compare<convnet>(w, "data_parallel, default buckets", image, [](auto& m, auto& shard) {
        distributed::data_parallel<graph::model<convnet>> ddp(m);
        train(m, shard, [&](auto&) { ddp.backward(); });
        return std::string(ddp.comm_stats().all_reduces == 10 ? "" : " WRONG bucket count");
    });

    // Metrics across ranks: each rank scores its shard; the summed matrix is the whole set's.
    graph::model<mlp> scorer(/*seed=*/5);
    data::confusion_matrix sharded(5), everything(5);
    for (const auto& b : data::data_loader(flat, {.batch_size = 64, .num_replicas = w.size, .rank = w.rank}))
        sharded.add_logits(scorer.forward(b.input()), b.target_span());
    distributed::all_reduce_sum(sharded.counts());
    for (const auto& b : data::data_loader(flat, {.batch_size = 64})) everything.add_logits(scorer.forward(b.input()), b.target_span());
    const bool same = std::equal(sharded.counts().begin(), sharded.counts().end(), everything.counts().begin());
    std::printf("rank %zu: accuracy over its shard summed across ranks %.4f, over the whole set %.4f\n", w.rank,
                sharded.accuracy(), everything.accuracy());
    if (!same || sharded.total() != flat.size()) {
        std::fprintf(stderr, "rank %zu: the summed confusion matrix is not the whole set's\n", w.rank);
        ++w.failures;
    }
    return w.failures == 0 ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "test_ddp_graph: %s\n", e.what());
    return 1;
}
