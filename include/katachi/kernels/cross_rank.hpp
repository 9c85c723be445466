// katachi/kernels/cross_rank.hpp: the one point where a kernel reaches past its own process: a sum
// over the ranks of a data-parallel run (synchronised batch norm, kernels/batch_norm.hpp).
//
// No MPI here: the kernels take the sum as a plain function pointer, which the caller passes (ops
// pass the one installed by katachi/ops/cross_rank.hpp; distributed::context installs an MPI one).
// A plain pointer keeps the embedded builds (no heap, no exceptions, no RTTI) compiling these
// headers.
#pragma once

#include <cstddef>

namespace katachi::kernels {

// Replaces data[0, count) by its element-wise sum over every rank, in place, so that every rank
// ends with the same values. Every rank calls it at the same point with the same count (it is a
// collective). Null where an argument takes one: this process alone, nothing to sum.
using cross_rank_sum = void (*)(double* data, std::size_t count);

}  // namespace katachi::kernels
