// Suite `distributed` (run by mpirun -np 2): data-parallel training in the graph face equals one
// process's training on the union of the ranks' batches. Each rank starts from another seed, takes
// rank 0's parameters by broadcast, trains 10 SGD-with-momentum steps at batch 32 on its shard and
// averages the gradients; beside it, the same process trains one model at batch 64 on the whole
// set. The two must agree to 1e-5 on every parameter, on every rank; and the ranks' confusion
// matrices over their shards, summed, must be the one over the whole set.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <katachi/data.hpp>
#include <katachi/distributed.hpp>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <vector>

namespace {

using namespace katachi;
using net = graph::sequential<graph::input<20>, graph::linear<32>, graph::relu, graph::linear<5>>;

data::tensor_dataset<float> samples() {
    std::vector<float> x;
    std::vector<std::int64_t> y;
    generator gen(7);
    for (std::size_t i = 0; i < 640; ++i) {
        for (std::size_t k = 0; k < 20; ++k) x.push_back(gen.uniform<float>(-1.0f, 1.0f));
        y.push_back(static_cast<std::int64_t>(gen() % 5));
    }
    return data::tensor_dataset<float>(std::move(x), {20}, std::move(y));
}

template <class Model, class Hook>
void train(Model& m, data::data_loader<float>& loader, Hook after_backward) {
    optim::sgd<float> opt(m.parameters(), {.lr = 0.05, .momentum = 0.9});
    for (const auto& b : loader) {
        m.forward(b.input());
        m.cross_entropy(b.targets());
        m.backward();
        after_backward(m);
        opt.step();
    }
}

}  // namespace

int main(int argc, char** argv) try {
    distributed::context mpi(argc, argv);
    const std::size_t rank = mpi.rank(), world = mpi.size();
    if (world != 2) {
        std::fprintf(stderr, "rank %zu: run with mpirun -np 2 (got %zu ranks)\n", rank, world);
        return 1;
    }
    const auto set = samples();

    graph::model<net> parallel(/*seed=*/1 + rank);  // another start on each rank...
    distributed::broadcast_parameters(parallel);     // ...until rank 0's is broadcast
    data::data_loader shard(set, {.batch_size = 32, .shuffle = true, .seed = 3, .num_replicas = world, .rank = rank});
    train(parallel, shard, [](auto& m) { distributed::average_gradients(m); });

    graph::model<net> single(/*seed=*/1);
    data::data_loader whole(set, {.batch_size = 64, .shuffle = true, .seed = 3});
    train(single, whole, [](auto&) {});

    const auto a = parallel.all_parameters(), b = single.all_parameters();
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
    std::printf("rank %zu: %zu steps of 2 x 32 against 1 x 64, largest parameter difference %.3g\n", rank,
                shard.size(), worst);
    if (shard.size() != 10 || !(worst <= 1e-5)) {
        std::fprintf(stderr, "rank %zu: data-parallel training differs from one process's (%.3g > 1e-5)\n", rank, worst);
        return 1;
    }

    // Metrics across ranks: each rank scores its shard; the summed matrix is the whole set's.
    data::confusion_matrix sharded(5), everything(5);
    for (const auto& b : data::data_loader(set, {.batch_size = 64, .num_replicas = world, .rank = rank}))
        sharded.add_logits(parallel.forward(b.input()), b.target_span());
    distributed::all_reduce_sum(sharded.counts());
    for (const auto& b : data::data_loader(set, {.batch_size = 64})) everything.add_logits(parallel.forward(b.input()), b.target_span());
    const bool same = std::equal(sharded.counts().begin(), sharded.counts().end(), everything.counts().begin());
    std::printf("rank %zu: accuracy over its shard summed across ranks %.4f, over the whole set %.4f\n", rank,
                sharded.accuracy(), everything.accuracy());
    if (!same || sharded.total() != set.size()) {
        std::fprintf(stderr, "rank %zu: the summed confusion matrix is not the whole set's\n", rank);
        return 1;
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "test_ddp_graph: %s\n", e.what());
    return 1;
}
