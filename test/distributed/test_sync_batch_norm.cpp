// Suite `distributed` (run by mpirun -np 2): synchronised batch norm in both faces. A small conv
// net with a batch norm 2d and a batch norm 1d trains 10 SGD-with-momentum steps on 2 ranks at
// batch 32 each (each rank its shard, gradients averaged) with sync batch norm, and beside it in
// the same process on 1 rank at batch 64 with plain batch norm, from the same start. Every
// parameter and every running statistic must agree to 1e-5, on every rank, in the graph face and
// in the eager face (each face both with its gradients averaged after the backward and through
// its data-parallel wrapper, whose all-reduces overlap the backward). The same 2-rank run with
// plain batch norm (per-rank statistics, as under PyTorch's DDP) must not agree, or the comparison
// would prove nothing.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <katachi/data.hpp>
#include <katachi/data/eager.hpp>
#include <katachi/distributed.hpp>
#include <katachi/distributed/eager.hpp>
#include <katachi/eager.hpp>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <span>
#include <vector>

namespace {

using namespace katachi;
namespace nn = katachi::eager::nn;

constexpr double tolerance = 1e-5;
constexpr optim::sgd_options sgd{.lr = 0.05, .momentum = 0.9};

// Biases right before batch norm are left out: the batch mean absorbs them.
template <class Norm2d, class Norm1d>
using graph_net =
    graph::sequential<graph::input<1, 8, 8>, graph::conv2d<4, 3, graph::padding<1>, graph::bias<false>>, Norm2d,
                      graph::relu, graph::max_pool2d<2>, graph::flatten, graph::linear<16, graph::bias<false>>,
                      Norm1d, graph::relu, graph::linear<5>>;
using graph_sync = graph_net<graph::sync_batch_norm2d, graph::sync_batch_norm1d>;
using graph_plain = graph_net<graph::batch_norm2d, graph::batch_norm1d>;

std::shared_ptr<nn::sequential> eager_net(bool sync) {
    return std::make_shared<nn::sequential>(
        nn::conv2d({.in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1, .bias = false}),
        nn::batch_norm2d({.num_features = 4, .sync = sync}), nn::relu(), nn::max_pool2d({.kernel_size = 2}),
        nn::flatten(), nn::linear({.in_features = 64, .out_features = 16, .bias = false}),
        nn::batch_norm1d({.num_features = 16, .sync = sync}), nn::relu(),
        nn::linear({.in_features = 16, .out_features = 5}));
}

data::tensor_dataset<float> samples() {
    std::vector<float> x;
    std::vector<std::int64_t> y;
    generator gen(11);
    for (std::size_t i = 0; i < 640; ++i) {
        // Samples of unlike scale and offset, so that two shards' statistics differ.
        const float scale = gen.uniform<float>(0.5f, 2.0f), offset = gen.uniform<float>(-0.5f, 0.5f);
        for (std::size_t k = 0; k < 64; ++k) x.push_back(offset + scale * gen.uniform<float>(-1.0f, 1.0f));
        y.push_back(static_cast<std::int64_t>(gen() % 5));
    }
    return data::tensor_dataset<float>(std::move(x), {1, 8, 8}, std::move(y));
}

double largest_difference(std::span<const float> a, std::span<const float> b) {
    double worst = a.size() == b.size() ? 0.0 : INFINITY;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
    return worst;
}

// ---- graph face ---------------------------------------------------------------------------------

template <class Model, class Hook>
void train_graph(Model& m, data::data_loader<float>& loader, Hook after_backward) {
    optim::sgd<float> opt(m.parameters(), sgd);
    for (const auto& b : loader) {
        m.forward(b.input());
        m.cross_entropy(b.targets());
        m.backward();
        after_backward(m);
        opt.step();
    }
}

template <class From, class To>
void copy_graph(From& from, To& to) {
    std::ranges::copy(from.all_parameters(), to.all_parameters().begin());
    std::ranges::copy(from.all_buffers(), to.all_buffers().begin());
}

template <class A, class B>
double graph_difference(A& a, B& b) {
    return std::max(largest_difference(a.all_parameters(), b.all_parameters()),
                    largest_difference(a.all_buffers(), b.all_buffers()));
}

// The same through data_parallel's overlapped backward, a bucket per node: gradient all-reduces
// are in flight on MPI_COMM_WORLD while the batch norms' backward sums run on the context's own
// communicator. Returns the largest difference from the 1 x 64 run.
template <class Single>
double graph_overlapped(const data::tensor_dataset<float>& set, const data::loader_options& shard, Single& single) {
    constexpr graph::bucket_options one_per_node{.bucket_cap_mb = 0, .first_bucket_cap_mb = 0};
    graph::model<graph_sync> m(/*seed=*/1);
    distributed::data_parallel<graph::model<graph_sync>, one_per_node> ddp(m);  // broadcasts rank 0's
    static_assert(decltype(ddp)::plan.count > 1);
    data::data_loader loader(set, shard);
    optim::sgd<float> opt(m.parameters(), sgd);
    for (const auto& b : loader) {
        m.forward(b.input());
        m.cross_entropy(b.targets());
        ddp.backward();
        opt.step();
    }
    return graph_difference(m, single);
}

// {synchronised 2 x 32 against 1 x 64 (average_gradients, and data_parallel overlapped: the larger),
//  per-rank statistics 2 x 32 against 1 x 64}
std::pair<double, double> graph_face(const data::tensor_dataset<float>& set, std::size_t rank, std::size_t world) {
    const data::loader_options shard{.batch_size = 32, .shuffle = true, .seed = 3, .num_replicas = world, .rank = rank};
    const auto average = [](auto& m) { distributed::average_gradients(m); };

    graph::model<graph_sync> synced(/*seed=*/1 + rank);  // another start on each rank...
    distributed::broadcast_parameters(synced);          // ...until rank 0's is broadcast
    graph::model<graph_plain> single, per_rank;
    copy_graph(synced, single);
    copy_graph(synced, per_rank);

    data::data_loader synced_loader(set, shard), per_rank_loader(set, shard);
    train_graph(synced, synced_loader, average);
    train_graph(per_rank, per_rank_loader, average);
    data::data_loader whole(set, {.batch_size = 64, .shuffle = true, .seed = 3});
    train_graph(single, whole, [](auto&) {});
    if (synced_loader.size() != 10 || whole.size() != 10) return {INFINITY, INFINITY};
    const double overlapped = graph_overlapped(set, shard, single);
    return {std::max(graph_difference(synced, single), overlapped), graph_difference(per_rank, single)};
}

// ---- eager face ---------------------------------------------------------------------------------

std::vector<float> eager_state(const nn::module& m) {
    std::vector<float> out;
    for (const auto& list : {m.parameters(), m.buffers()})
        for (const auto& t : list) {
            const auto v = t.to_vector();
            out.insert(out.end(), v.begin(), v.end());
        }
    return out;
}

void copy_eager(const nn::module& from, nn::module& to) {
    const auto pf = from.parameters(), pt = to.parameters(), bf = from.buffers(), bt = to.buffers();
    for (std::size_t i = 0; i < pf.size(); ++i) std::copy_n(pf[i].data(), pf[i].numel(), pt[i].data());
    for (std::size_t i = 0; i < bf.size(); ++i) std::copy_n(bf[i].data(), bf[i].numel(), bt[i].data());
}

void train_eager(nn::module& m, data::data_loader<float>& loader, bool average) {
    optim::sgd<float> opt(nn::optimiser_parameters(m), sgd);
    for (const auto& b : loader) {
        opt.zero_grad();
        eager::cross_entropy(m(data::input_tensor(b)), b.target_span()).backward();
        if (average)
            for (const auto& p : m.parameters())
                distributed::all_reduce_mean(std::span<float>(p.grad().data(), p.grad().numel()));
        opt.step();
    }
}

// The same through distributed_data_parallel, overlapped, a bucket per parameter: its all-reduces
// are in flight on MPI_COMM_WORLD while the batch norms' backward sums run on the context's own
// communicator. Returns the largest difference from the 1 x 64 run.
double eager_wrapped(const data::tensor_dataset<float>& set, const data::loader_options& shard,
                     const nn::module& start, const std::vector<float>& single) {
    auto net = eager_net(true);
    copy_eager(start, *net);
    distributed::distributed_data_parallel ddp(net, {.bucket_cap_mb = 1e-6});
    optim::sgd<float> opt(nn::optimiser_parameters(ddp.module()), sgd);
    data::data_loader loader(set, shard);
    for (const auto& b : loader) {
        ddp.module().zero_grad();
        eager::cross_entropy(ddp(data::input_tensor(b)), b.target_span()).backward();
        opt.step();
    }
    return largest_difference(eager_state(*net), single);
}

// {synchronised 2 x 32 against 1 x 64 (gradients all-reduced by hand, and distributed_data_parallel:
//  the larger), per-rank statistics 2 x 32 against 1 x 64}
std::pair<double, double> eager_face(const data::tensor_dataset<float>& set, std::size_t rank, std::size_t world) {
    const data::loader_options shard{.batch_size = 32, .shuffle = true, .seed = 5, .num_replicas = world, .rank = rank};
    eager::manual_seed(1 + rank);  // another start on each rank...
    auto synced = eager_net(false);
    nn::convert_sync_batch_norm(*synced);  // the PyTorch way: a plain model made synchronised
    for (const auto& list : {synced->parameters(), synced->buffers()})  // ...until rank 0's is broadcast
        for (const auto& t : list) distributed::broadcast(std::span<float>(t.data(), t.numel()));
    auto single = eager_net(false), per_rank = eager_net(false), start = eager_net(false);
    copy_eager(*synced, *single);
    copy_eager(*synced, *per_rank);
    copy_eager(*synced, *start);

    data::data_loader synced_loader(set, shard), per_rank_loader(set, shard);
    train_eager(*synced, synced_loader, true);
    train_eager(*per_rank, per_rank_loader, true);
    data::data_loader whole(set, {.batch_size = 64, .shuffle = true, .seed = 5});
    train_eager(*single, whole, false);
    const auto s = eager_state(*single);
    const double wrapped = eager_wrapped(set, shard, *start, s);
    return {std::max(largest_difference(eager_state(*synced), s), wrapped),
            largest_difference(eager_state(*per_rank), s)};
}

bool report(const char* face, std::size_t rank, std::pair<double, double> d) {
    std::printf("rank %zu, %s face: 10 steps of 2 x 32 against 1 x 64, largest difference of a parameter or "
                "running statistic: sync batch norm %.3g, per-rank batch norm %.3g\n",
                rank, face, d.first, d.second);
    if (!(d.first <= tolerance))
        std::fprintf(stderr, "rank %zu, %s face: sync batch norm differs from one process's (%.3g > %.0e)\n", rank,
                     face, d.first, tolerance);
    if (!(d.second > 100 * tolerance))
        std::fprintf(stderr, "rank %zu, %s face: per-rank batch norm does not differ (%.3g): the test cannot fail\n",
                     rank, face, d.second);
    return d.first <= tolerance && d.second > 100 * tolerance;
}

}  // namespace

int main(int argc, char** argv) try {
    distributed::context mpi(argc, argv);
    const std::size_t rank = mpi.rank(), world = mpi.size();
    if (world != 2) {
        std::fprintf(stderr, "rank %zu: run with mpirun -np 2 (got %zu ranks)\n", rank, world);
        return 1;
    }
    if (ops::installed_cross_rank_sum() == nullptr) {
        std::fprintf(stderr, "rank %zu: distributed::context installed no cross-rank sum\n", rank);
        return 1;
    }
    const auto set = samples();
    const bool graph_ok = report("graph", rank, graph_face(set, rank, world));
    const bool eager_ok = report("eager", rank, eager_face(set, rank, world));
    return graph_ok && eager_ok ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "test_sync_batch_norm: %s\n", e.what());
    return 1;
}
