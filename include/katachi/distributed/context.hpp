// katachi/distributed/context.hpp: MPI's start and end (distributed::context), the rank and the
// world size, and the error check every MPI call goes through (a failure throws naming the call).
// The context also installs the cross-rank sum of synchronised batch norm (ops/cross_rank.hpp).
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
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <katachi/error.hpp>
#include <katachi/ops/cross_rank.hpp>
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

// The communicator of the ops' cross-rank sum: the context's duplicate of MPI_COMM_WORLD, so that
// the all-reduces a synchronised batch norm starts inside a forward or backward never pair with
// gradient all-reduces (perhaps non-blocking and in flight) on MPI_COMM_WORLD.
inline MPI_Comm ops_comm = MPI_COMM_NULL;

// The cross-rank sum the ops take (kernels::cross_rank_sum): doubles summed over every rank.
inline void sum_over_ranks(double* data, std::size_t count) {
    in_pieces(std::span<double>(data, count), [](double* p, int n) {
        check(MPI_Allreduce(MPI_IN_PLACE, p, n, MPI_DOUBLE, MPI_SUM, ops_comm), "MPI_Allreduce");
    });
}

}  // namespace detail

// MPI_Init on construction (unless MPI is initialised already) and MPI_Finalize on destruction.
// MPI's errors are returned to katachi, which throws them (MPI_ERRORS_RETURN). While it lives, the
// ops' cross-rank sum (synchronised batch norm) is an MPI_Allreduce over every rank, on a
// communicator of its own; its destruction puts back the sum installed before it (none, usually).
//
// A rank that fails must take the job down with it: the other ranks would otherwise wait for it
// in their next collective forever. abort(message) prints "rank R of N: message" on stderr and
// calls MPI_Abort, after which mpirun stops every rank and names the one that aborted. A context
// destroyed by an exception passing through (std::uncaught_exceptions) aborts the same way instead
// of finalising, since MPI_Finalize would wait for the ranks that are still training.
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
        detail::check(MPI_Comm_dup(MPI_COMM_WORLD, &ops_comm_), "MPI_Comm_dup");
        MPI_Comm_set_errhandler(ops_comm_, MPI_ERRORS_RETURN);
        previous_comm_ = detail::ops_comm;
        detail::ops_comm = ops_comm_;
        previous_sum_ = ops::install_cross_rank_sum(&detail::sum_over_ranks);
    }
    context(const context&) = delete;
    context& operator=(const context&) = delete;
    ~context() {
        ops::install_cross_rank_sum(previous_sum_);
        detail::ops_comm = previous_comm_;
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (finalised) return;
        if (std::uncaught_exceptions() > exceptions_at_start_)
            abort("an exception is leaving the scope of distributed::context; stopping every rank");
        MPI_Comm_free(&ops_comm_);
        if (owns_) MPI_Finalize();
    }

    // Stops every rank of the job (MPI_Abort with `code`), after printing the message with this
    // rank's number. Does not return.
    [[noreturn]] void abort(const std::string& message, int code = 1) const {
        int r = 0, s = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
        MPI_Comm_size(MPI_COMM_WORLD, &s);
        std::fflush(stdout);
        std::fprintf(stderr, "rank %d of %d: %s\n", r, s, message.c_str());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
        std::abort();  // MPI_Abort does not return; if it did, this rank still must not go on
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
    int exceptions_at_start_ = std::uncaught_exceptions();
    MPI_Comm ops_comm_ = MPI_COMM_NULL, previous_comm_ = MPI_COMM_NULL;
    kernels::cross_rank_sum previous_sum_ = nullptr;
};

}  // namespace katachi::distributed
