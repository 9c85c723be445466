// Suite `distributed` (run by mpirun -np 2): distributed_data_parallel in the eager face equals
// one process's training on the union of the ranks' batches. Each rank builds the model from
// another seed and the wrapper broadcasts rank 0's; it trains 10 SGD-with-momentum steps at batch
// 32 on its shard, the gradients averaged in buckets during backward; beside it the same process
// trains the model from rank 0's seed at batch 64 on the whole set. Every parameter must agree to
// 1e-5, on every rank, with three buckets (a small cap), one bucket (the default cap), and with
// overlap off. The statistics must show the buckets started during backward when overlap is on
// (and the first ones before the first layer's gradient is final), and none when it is off.
// Then the edges: a backward that throws on one rank with all-reduces in flight is completed by
// synchronize() or by the destructor, releasing the other rank; parameters that get no gradient
// are reduced at the end of backward and keep none; a lazy module is refused until materialised.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <katachi/data.hpp>
#include <katachi/data/eager.hpp>
#include <katachi/distributed.hpp>
#include <katachi/distributed/eager.hpp>
#include <katachi/eager.hpp>
#include <katachi/optim/sgd.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace katachi;
namespace nn = eager::nn;

int failures = 0;
std::size_t rank_ = 0;

void expect(bool ok, const std::string& what) {
    if (ok) return;
    ++failures;
    std::fprintf(stderr, "rank %zu: FAILED: %s\n", rank_, what.c_str());
}

data::tensor_dataset<float> samples() {
    std::vector<float> x;
    std::vector<std::int64_t> y;
    generator gen(7);
    for (std::size_t i = 0; i < 640; ++i) {
        for (std::size_t k = 0; k < 36; ++k) x.push_back(gen.uniform<float>(-1.0f, 1.0f));
        y.push_back(static_cast<std::int64_t>(gen() % 5));
    }
    return data::tensor_dataset<float>(std::move(x), {1, 6, 6}, std::move(y));
}

// conv2d (36 + 4) -> relu -> flatten -> linear (320 + 5): no batch norm.
std::shared_ptr<nn::sequential> make_model(std::uint64_t seed) {
    eager::manual_seed(seed);
    return std::make_shared<nn::sequential>(
        nn::conv2d({.in_channels = 1, .out_channels = 4, .kernel_size = 3}), nn::relu(), nn::flatten(),
        nn::linear({.in_features = 64, .out_features = 5}));
}

template <class Forward>
void train(nn::module& m, Forward forward, data::data_loader<float>& loader) {
    optim::sgd<float> opt(nn::optimiser_parameters(m), {.lr = 0.05, .momentum = 0.9});
    for (const auto& b : loader) {
        m.zero_grad();
        eager::cross_entropy(forward(data::input_tensor(b)), b.target_span()).backward();
        opt.step();
    }
}

double largest_difference(const nn::module& a, const nn::module& b) {
    const auto pa = a.parameters(), pb = b.parameters();
    double worst = pa.size() == pb.size() ? 0.0 : INFINITY;
    for (std::size_t i = 0; i < std::min(pa.size(), pb.size()); ++i) {
        const auto va = pa[i].to_vector(), vb = pb[i].to_vector();
        if (va.size() != vb.size()) return INFINITY;
        for (std::size_t k = 0; k < va.size(); ++k) worst = std::max(worst, std::abs(double(va[k]) - vb[k]));
    }
    return worst;
}

// True when every rank holds the same values in `v`: the maximum over the ranks equals the minimum.
bool same_on_every_rank(const std::vector<float>& v) {
    std::vector<float> hi = v, low = v;
    for (float& x : low) x = -x;
    MPI_Allreduce(MPI_IN_PLACE, hi.data(), static_cast<int>(hi.size()), MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, low.data(), static_cast<int>(low.size()), MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD);
    for (std::size_t i = 0; i < hi.size(); ++i)
        if (hi[i] != -low[i]) return false;
    return true;
}

// A parameter's gradient, or its size in NaNs when it has none (so that every rank takes part in
// the same collectives whatever it holds, and an undefined gradient never compares equal).
std::vector<float> grad_values(const eager::tensor& p) {
    return p.grad().defined() ? p.grad().to_vector() : std::vector<float>(p.numel(), NAN);
}

struct run_case {
    const char* name;
    distributed::ddp_options options;
    std::vector<std::vector<std::size_t>> layout;  // the buckets expected
};

void data_parallel_equals_one_process(const run_case& c, const data::tensor_dataset<float>& set,
                                      const nn::module& reference, std::size_t world) {
    auto model = make_model(1 + rank_);  // another start on each rank, until rank 0's is broadcast
    distributed::distributed_data_parallel ddp(model, c.options);
    expect(ddp.bucket_layout() == c.layout, std::string(c.name) + ": the buckets are not the ones expected");

    // When the first layer's weight gradient is final (the last one in backward), the buckets of
    // the layers after it must already have been started.
    auto& conv = model->at<nn::conv2d>(0);
    std::size_t step = 0, started_early = 0, buckets = c.layout.size();
    eager::hook_handle probe = conv.weight.register_post_accumulate_grad_hook([&](const eager::tensor&) {
        const std::size_t before_this_step = step * buckets;
        if (ddp.comm_stats().all_reduces >= before_this_step + std::min<std::size_t>(buckets - 1, 2))
            ++started_early;
        ++step;
    });

    data::data_loader shard(
        set, {.batch_size = 32, .shuffle = true, .seed = 3, .num_replicas = world, .rank = rank_});
    train(
        ddp.module(), [&](const eager::tensor& x) { return ddp(x); }, shard);
    probe.remove();

    const double worst = largest_difference(*model, reference);
    const auto& s = ddp.comm_stats();
    std::printf(
        "rank %zu: %s: %zu steps of 2 x 32 against 1 x 64, largest parameter difference %.3g; "
        "%zu buckets, %zu all-reduces (%zu started during backward), %zu bytes, %.3g ms blocked\n",
        rank_, c.name, shard.size(), worst, buckets, s.all_reduces, s.started_in_backward, s.bytes,
        s.wait_seconds * 1e3);
    expect(shard.size() == 10, std::string(c.name) + ": 10 steps");
    expect(worst <= 1e-5, std::string(c.name) + ": data-parallel training differs from one process's");
    expect(s.backwards == 10, std::string(c.name) + ": 10 backward passes reduced");
    expect(s.all_reduces == 10 * buckets, std::string(c.name) + ": one all-reduce per bucket per step");
    std::size_t floats = 0;
    for (const auto& b : c.layout) {
        for (std::size_t n : b) floats += n;
        floats += b.size();  // each parameter's has-a-gradient flag
    }
    expect(s.bytes == 10 * floats * sizeof(float), std::string(c.name) + ": the bytes all-reduced");
    if (c.options.overlap) {
        expect(s.started_in_backward == s.all_reduces,
               std::string(c.name) + ": every bucket started during backward");
        if (buckets > 1)
            expect(started_early == 10, std::string(c.name) + ": later layers' buckets started first");
    } else {
        expect(s.started_in_backward == 0, std::string(c.name) + ": nothing started during backward");
        expect(s.wait_seconds > 0, std::string(c.name) + ": the blocking all-reduces are timed");
    }
}

// A backward that throws on rank 0 once the linear layer's buckets have started, while rank 1's
// completes (and waits there for rank 0's last bucket): rank 0's synchronize() completes the round,
// or, the second time, its wrapper's destructor does; either way rank 1 is released, the ranks'
// gradients are equal, and the ranks stay in step.
void a_failed_backward_leaves_no_request_behind(const data::tensor_dataset<float>& set, std::size_t world) {
    const distributed::ddp_options small{.bucket_cap_mb = 400.0 / (1024 * 1024)};
    data::data_loader shard(set, {.batch_size = 32, .num_replicas = world, .rank = rank_});
    auto first = shard.begin();
    const auto& batch = *first;
    for (int destroy = 0; destroy < 2; ++destroy) {
        auto model = make_model(5);
        auto& conv = model->at<nn::conv2d>(0);
        const auto& lin = model->at<nn::linear>(3);
        {
            distributed::distributed_data_parallel ddp(model, small);
            eager::hook_handle fail =
                conv.weight.register_post_accumulate_grad_hook([](const eager::tensor&) {
                    if (rank_ == 0) throw std::runtime_error("the first layer failed");
                });
            bool threw = false;
            try {
                eager::cross_entropy(ddp(data::input_tensor(batch)), batch.target_span()).backward();
            } catch (const std::runtime_error& e) {
                threw = std::string(e.what()) == "the first layer failed";
            }
            fail.remove();
            expect(threw == (rank_ == 0), "the hook's exception leaves rank 0's backward");
            const auto& s = ddp.comm_stats();
            if (rank_ == 0)  // the linear layer's buckets, and the conv layer's if its bias came first
                expect((s.all_reduces == 2 || s.all_reduces == 3) && s.backwards == 0,
                       "buckets in flight when backward threw");
            if (!destroy) {  // else the destructor completes the round
                ddp.synchronize();
                ddp.synchronize();  // idempotent
                expect(s.all_reduces == 3 && s.backwards == 1, "synchronize() completes the round once");
                expect(same_on_every_rank(grad_values(lin.weight)) &&
                           same_on_every_rank(grad_values(conv.weight)),
                       "after synchronize() the ranks' gradients are equal (their mean)");
                // Rank 0's bias gradient, if it had none when backward threw, counted as zero.
                const bool same_bias = same_on_every_rank(grad_values(conv.bias));
                expect(conv.bias.grad().defined() && same_bias,
                       "a gradient one rank lacked is the others' over the world size");
            }
        }
        // The ranks are still in step: a collective after the wrapper's end matches.
        std::vector<double> one{double(rank_ + 1)};
        distributed::all_reduce_sum(std::span<double>(one));
        expect(one[0] == double(world * (world + 1) / 2), "a collective after the failure");
        expect(same_on_every_rank(grad_values(lin.weight)), "the destroyed wrapper's round was completed");
    }
}

// A module with a head that forward never calls: its parameters get no gradient on any rank, so
// their buckets (the last two) start at the end of backward and their gradients stay undefined.
struct two_heads : nn::module {
    std::shared_ptr<nn::linear> unused = register_module(
        "unused", std::make_shared<nn::linear>(nn::linear_options{.in_features = 36, .out_features = 5}));
    std::shared_ptr<nn::linear> used = register_module(
        "used", std::make_shared<nn::linear>(nn::linear_options{.in_features = 36, .out_features = 5}));
    eager::tensor forward(const eager::tensor& x) override { return (*used)(x.flatten(1)); }
};

void unused_parameters_are_reduced_at_the_end(const data::tensor_dataset<float>& set, std::size_t world) {
    auto model = std::make_shared<two_heads>();
    distributed::distributed_data_parallel ddp(model, {.bucket_cap_mb = 400.0 / (1024 * 1024)});
    expect(ddp.bucket_layout() == std::vector<std::vector<std::size_t>>{{5}, {180}, {5}, {180}},
           "two heads: four buckets");
    data::data_loader shard(set, {.batch_size = 32, .num_replicas = world, .rank = rank_});
    auto first = shard.begin();
    eager::cross_entropy(ddp(data::input_tensor(*first)), first->target_span()).backward();
    const auto& s = ddp.comm_stats();
    expect(s.all_reduces == 4 && s.started_in_backward == 2 && s.backwards == 1,
           "the used head's buckets start during backward, the unused one's at its end");
    expect(!model->unused->weight.grad().defined() && !model->unused->bias.grad().defined(),
           "a parameter no rank had a gradient for keeps none");
    const bool same_used = same_on_every_rank(grad_values(model->used->weight));
    expect(model->used->weight.grad().defined() && same_used, "the used head's gradients are averaged");
}

void a_lazy_module_is_refused() {
    auto lazy = std::make_shared<nn::sequential>(nn::flatten(), nn::lazy_linear({.out_features = 5}));
    try {
        distributed::distributed_data_parallel ddp(lazy);
        expect(false, "a lazy module is refused");
    } catch (const std::logic_error& e) {
        expect(std::string(e.what()).find("materialize(input_shape)") != std::string::npos,
               std::string("the refusal says to materialise first: ") + e.what());
    }
    lazy->materialize({2, 1, 6, 6});
    distributed::distributed_data_parallel ddp(lazy);  // accepted once materialised
    expect(ddp.bucket_layout().size() == 1, "a materialised lazy module is wrapped");
}

}  // namespace

int main(int argc, char** argv) try {
    distributed::context mpi(argc, argv);
    rank_ = mpi.rank();
    const std::size_t world = mpi.size();
    if (world != 2) {
        std::fprintf(stderr, "rank %zu: run with mpirun -np 2 (got %zu ranks)\n", rank_, world);
        return 1;
    }
    const auto set = samples();

    auto reference = make_model(1);
    data::data_loader whole(set, {.batch_size = 64, .shuffle = true, .seed = 3});
    train(
        *reference, [&](const eager::tensor& x) { return (*reference)(x); }, whole);

    const double small_cap = 400.0 / (1024 * 1024);  // 100 floats: linear.bias | linear.weight | conv
    const run_case cases[] = {
        {"3 buckets, overlapped", {.bucket_cap_mb = small_cap}, {{5}, {320}, {4, 36}}},
        {"1 bucket (the default cap)", {}, {{5, 320, 4, 36}}},
        {"3 buckets, blocking after backward",
         {.bucket_cap_mb = small_cap, .overlap = false},
         {{5}, {320}, {4, 36}}},
    };
    for (const run_case& c : cases) data_parallel_equals_one_process(c, set, *reference, world);
    a_failed_backward_leaves_no_request_behind(set, world);
    unused_parameters_are_reduced_at_the_end(set, world);
    a_lazy_module_is_refused();

    int all_failures = failures;
    MPI_Allreduce(MPI_IN_PLACE, &all_failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (all_failures) std::fprintf(stderr, "rank %zu: %d failures over the ranks\n", rank_, all_failures);
    return all_failures ? 1 : 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "test_ddp_eager: rank %zu: %s\n", rank_, e.what());
    return 1;
}
