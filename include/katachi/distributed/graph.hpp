// katachi/distributed/graph.hpp: data-parallel training of a graph model: parameters broadcast from
// rank 0, gradients averaged over the ranks.
//
//   distributed::data_parallel<graph::model<lenet>> ddp(m);   // broadcasts rank 0's parameters
//   m.forward(b.input()); m.cross_entropy(b.targets());
//   ddp.backward();                                           // the backward, all-reducing as it goes
//   opt.step();                                               // every rank takes the same step
//
// data_parallel runs the all-reduce plan of graph/bucket_plan.hpp: the buckets and the node after
// whose backward each one starts are constants of the model's type, so the backward starts each
// bucket's non-blocking all-reduce (MPI_Iallreduce, in place on the model's gradient array) right
// after the last of its gradients is written, with no hooks and nothing discovered at run time.
// Between nodes it lets MPI progress the buckets in flight; at the end of the backward it waits for
// them and divides by the number of ranks. Buckets start in the same order on every rank, as MPI's
// collectives require. `summary()` prints the model with its plan.
//
// The simplest form, average_gradients(m) after m.backward(), all-reduces everything at once.
#pragma once

#include <array>
#include <chrono>
#include <katachi/distributed/collectives.hpp>
#include <katachi/graph/bucket_plan.hpp>
#include <katachi/graph/summary.hpp>
#include <katachi/kernels/common.hpp>
#include <string>

namespace katachi::distributed {

// A graph model's parameters and buffers (batch norm's running statistics) become rank 0's.
template <class Model>
void broadcast_parameters(Model& m) {
    broadcast(m.all_parameters());
    broadcast(m.all_buffers());
}

// After backward: every rank's gradients become their mean over the ranks.
template <class Model>
void average_gradients(Model& m) {
    all_reduce_mean(m.all_gradients());
}

struct data_parallel_options {
    // false: the backward runs to its end first and then all-reduces every bucket, blocking (to
    // measure what the overlap saves).
    bool overlap = true;
    // Broadcast rank 0's parameters and buffers at construction (off when they are known equal,
    // e.g. every rank loaded one checkpoint).
    bool broadcast_parameters = true;
};

template <class Model, graph::bucket_options Buckets = graph::bucket_options{}>
class data_parallel {
public:
    using network = typename Model::network;
    using scalar = typename Model::scalar;
    static constexpr auto plan = graph::bucket_plan<network, scalar>(Buckets);

    explicit data_parallel(Model& m, const data_parallel_options& o = {}) : m_(m), options_(o) {
        int size = 1;
        detail::check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
        world_ = size;
        if (o.broadcast_parameters) distributed::broadcast_parameters(m);
        requests_.fill(MPI_REQUEST_NULL);
    }
    data_parallel(const data_parallel&) = delete;
    data_parallel& operator=(const data_parallel&) = delete;
    // A backward that threw may leave buckets in flight: they are waited, never abandoned.
    ~data_parallel() {
        if (in_flight_) MPI_Waitall(static_cast<int>(plan.count), requests_.data(), MPI_STATUSES_IGNORE);
    }

    // The model's backward; when it returns, every gradient is the mean over the ranks.
    void backward(kernels::write params_mode = kernels::write::overwrite, bool want_input_grad = false) {
        if (options_.overlap) {
            in_backward_ = true;
            m_.backward_with(
                [&]<std::size_t I>() {
                    if constexpr (plan.starts_after[I] >= 0)
                        start(static_cast<std::size_t>(plan.starts_after[I]));
                    else if (in_flight_)
                        progress();
                },
                params_mode, want_input_grad);
            in_backward_ = false;
        } else {
            m_.backward(params_mode, want_input_grad);
            for (std::size_t k = 0; k < plan.count; ++k) start(k);
        }
        finish();
    }

    const communication_stats& comm_stats() const noexcept { return stats_; }
    void reset_comm_stats() noexcept { stats_ = {}; }
    Model& module() { return m_; }

    // The model's summary followed by the all-reduce plan.
    static std::string summary() { return graph::summary<network, scalar>(Buckets); }

private:
    void start(std::size_t k) {
        const graph::gradient_bucket& b = plan.buckets[k];
        scalar* p = m_.all_gradients().data() + b.offset;
        detail::check(MPI_Iallreduce(MPI_IN_PLACE, p, static_cast<int>(b.size), detail::datatype<scalar>(), MPI_SUM,
                                     MPI_COMM_WORLD, &requests_[k]),
                      "MPI_Iallreduce");
        ++in_flight_;
        ++stats_.all_reduces;
        if (in_backward_) ++stats_.started_in_backward;
        stats_.bytes += b.size * sizeof(scalar);
        progress();
    }

    // MPI moves a non-blocking collective on only inside MPI calls: a test between nodes does that.
    void progress() {
        int done = 0;
        detail::check(MPI_Testall(static_cast<int>(plan.count), requests_.data(), &done, MPI_STATUSES_IGNORE),
                      "MPI_Testall");
    }

    void finish() {
        const auto t0 = std::chrono::steady_clock::now();
        detail::check(MPI_Waitall(static_cast<int>(plan.count), requests_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
        stats_.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        in_flight_ = 0;
        ++stats_.backwards;
        const scalar scale = scalar(1) / static_cast<scalar>(world_);
        for (scalar& g : m_.all_gradients()) g *= scale;
    }

    Model& m_;
    data_parallel_options options_;
    std::size_t world_ = 1, in_flight_ = 0;
    bool in_backward_ = false;
    std::array<MPI_Request, network::node_count> requests_{};
    communication_stats stats_;
};

}  // namespace katachi::distributed
