// katachi/distributed/collectives.hpp: broadcast and all-reduce (sum, mean) of a span of floats,
// doubles or 64-bit integers over every rank.
#pragma once

#include <katachi/distributed/context.hpp>

namespace katachi::distributed {

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
