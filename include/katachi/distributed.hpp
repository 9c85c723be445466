// katachi/distributed.hpp: data-parallel training over MPI (Open MPI), the graph face's first
// step: one process per rank, the same model on each, parameters broadcast from rank 0 at the
// start and gradients averaged after each backward, so every rank takes the same optimiser step.
//
//   katachi::distributed::context mpi(argc, argv);              // MPI_Init ... MPI_Finalize
//   graph::model<Net> m(seed);
//   distributed::broadcast_parameters(m);                       // every rank starts from rank 0's
//   data::data_loader loader(train, {.batch_size = 32, .shuffle = true, .seed = 1,
//                                    .num_replicas = mpi.size(), .rank = mpi.rank()});
//   for (const auto& b : loader) {
//       m.forward(b.input()); m.cross_entropy(b.targets()); m.backward();
//       distributed::average_gradients(m);                      // the mean over all ranks' samples
//       opt.step();
//   }
//   data::confusion_matrix cm(10);                               // each rank scores its shard...
//   distributed::all_reduce_sum(cm.counts());                    // ...and every rank gets the whole set's
//
// With each rank's mean loss over its own batch, the averaged gradient is the gradient of the mean
// loss over all ranks' batches: 2 ranks at batch 32 step as 1 rank at batch 64. Needs <mpi.h>
// (Debian's libopenmpi-dev; Meson's `distributed` feature). An MPI call that fails throws
// std::runtime_error naming the call and MPI's own sentence.
#pragma once

// MPI's C interface only: Open MPI's and MPICH's deprecated C++ bindings are left out.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <katachi/error.hpp>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace katachi::distributed {

namespace detail {

inline void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    KATACHI_THROW(std::runtime_error, std::string("distributed: ") + call + " failed: " + std::string(text, length));
}

template <class T>
MPI_Datatype datatype() {
    if constexpr (std::is_same_v<T, float>)
        return MPI_FLOAT;
    else if constexpr (std::is_same_v<T, double>)
        return MPI_DOUBLE;
    else if constexpr (std::is_same_v<T, std::int64_t>)
        return MPI_INT64_T;
    else if constexpr (std::is_same_v<T, std::uint64_t>)
        return MPI_UINT64_T;
    else
        static_assert(sizeof(T) == 0, "distributed: float, double, int64 or uint64 elements");
}

// MPI counts are int: a span longer than that goes in pieces.
template <class T, class F>
void in_pieces(std::span<T> data, F f) {
    constexpr std::size_t most = static_cast<std::size_t>(std::numeric_limits<int>::max());
    for (std::size_t at = 0; at < data.size(); at += most) f(data.data() + at, static_cast<int>(std::min(most, data.size() - at)));
}

}  // namespace detail

// MPI_Init on construction (unless MPI is initialised already) and MPI_Finalize on destruction.
// MPI's errors are returned to katachi, which throws them (MPI_ERRORS_RETURN).
class context {
public:
    context(int& argc, char**& argv) {
        int initialised = 0;
        MPI_Initialized(&initialised);
        if (!initialised) {
            detail::check(MPI_Init(&argc, &argv), "MPI_Init");
            owns_ = true;
        }
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    context(const context&) = delete;
    context& operator=(const context&) = delete;
    ~context() {
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (owns_ && !finalised) MPI_Finalize();
    }

    std::size_t rank() const {
        int r = 0;
        detail::check(MPI_Comm_rank(MPI_COMM_WORLD, &r), "MPI_Comm_rank");
        return static_cast<std::size_t>(r);
    }
    std::size_t size() const {
        int s = 1;
        detail::check(MPI_Comm_size(MPI_COMM_WORLD, &s), "MPI_Comm_size");
        return static_cast<std::size_t>(s);
    }

private:
    bool owns_ = false;
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

}  // namespace katachi::distributed
