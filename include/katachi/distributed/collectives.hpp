// katachi/distributed/collectives.hpp: broadcast and all-reduce (sum, mean) of a span of floats,
// doubles or 64-bit integers over every rank.
#pragma once

#include <katachi/distributed/context.hpp>

namespace katachi::distributed {

// What a data-parallel wrapper (graph face: data_parallel; eager face: distributed_data_parallel)
// has communicated on this rank since construction or reset_comm_stats().
struct communication_stats {
    std::size_t backwards = 0;            // backward passes whose gradients were averaged
    std::size_t all_reduces = 0;          // buckets all-reduced
    std::size_t started_in_backward = 0;  // of those, started while the backward still ran
    std::size_t bytes = 0;                // bytes all-reduced by this rank (the buckets' buffers)
    double wait_seconds = 0;              // blocked on communication: MPI_Waitall, or the blocking
                                          // MPI_Allreduce calls when overlap is off
};

// Every rank's `data` becomes root's.
template <class T>
void broadcast(std::span<T> data, int root = 0) {
    detail::in_pieces(data, [&](T* p, int n) {
        detail::check(MPI_Bcast(p, n, detail::datatype<T>(), root, MPI_COMM_WORLD), "MPI_Bcast");
    });
}

// Every rank's `data` becomes the mean over the ranks, element by element.
template <class T>
void all_reduce_mean(std::span<T> data) {
    int size = 1;
    detail::check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
    detail::in_pieces(data, [&](T* p, int n) {
        detail::check(MPI_Allreduce(MPI_IN_PLACE, p, n, detail::datatype<T>(), MPI_SUM, MPI_COMM_WORLD),
                      "MPI_Allreduce");
    });
    const T scale = T(1) / static_cast<T>(size);
    for (T& v : data) v *= scale;
}

// Every rank's `data` becomes the sum over the ranks, element by element.
template <class T>
void all_reduce_sum(std::span<T> data) {
    detail::in_pieces(data, [&](T* p, int n) {
        detail::check(MPI_Allreduce(MPI_IN_PLACE, p, n, detail::datatype<T>(), MPI_SUM, MPI_COMM_WORLD),
                      "MPI_Allreduce");
    });
}

}  // namespace katachi::distributed
