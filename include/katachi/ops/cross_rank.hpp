// katachi/ops/cross_rank.hpp: the cross-rank sum the synchronised ops use (batch norm with
// .sync = true), installed once per process.
//
// distributed::context (katachi/distributed/context.hpp) installs an MPI_Allreduce on
// construction and puts back what was there before on destruction; without it, or with nothing
// installed, an op runs on this process's batch alone. A test may install its own sum to stand
// for ranks it does not have. Installing is not synchronised with running ops: install before
// training starts, as distributed::context does.
#pragma once

#include <katachi/kernels/cross_rank.hpp>

namespace katachi::ops {

namespace detail {
inline kernels::cross_rank_sum cross_rank_sum_in_use = nullptr;
}  // namespace detail

// The installed sum, or null (one process).
inline kernels::cross_rank_sum installed_cross_rank_sum() { return detail::cross_rank_sum_in_use; }

// Installs `sum` (null: none) and returns the one it replaces.
inline kernels::cross_rank_sum install_cross_rank_sum(kernels::cross_rank_sum sum) {
    const kernels::cross_rank_sum before = detail::cross_rank_sum_in_use;
    detail::cross_rank_sum_in_use = sum;
    return before;
}

}  // namespace katachi::ops
