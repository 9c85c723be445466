// katachi/kernels/reduce_dim.hpp: one dimension of a row-major tensor seen as a set of lines.
//
// A tensor of shape [a0, ..., ak, ..., an] reduced along dim k is `outer` x `extent` x `inner`
// with outer = a0 ... a(k-1), extent = ak, inner = a(k+1) ... an. Line (o, i) starts at element
// o * extent * inner + i and its j-th element lies `inner` elements further per step. Softmax and
// log-softmax walk these lines; a rank-0 tensor is one line of one element (dim 0 or -1).
#pragma once

#include <katachi/error.hpp>
#include <cstddef>
#include <string>

#include <katachi/kernels/common.hpp>

namespace katachi::kernels::detail {

struct dim_lines {
    std::size_t outer = 1;
    std::size_t extent = 1;
    std::size_t inner = 1;

    std::size_t count() const { return outer * inner; }
    // First element of line `line` in [0, count()).
    std::size_t start(std::size_t line) const { return (line / inner) * extent * inner + line % inner; }
};

// Splits `e` at `dim`, which counts from the back when negative, as in PyTorch.
template <class E>
dim_lines lines_along(const char* op, const E& e, std::ptrdiff_t dim) {
    const auto rank = static_cast<std::ptrdiff_t>(e.dimension());
    const std::ptrdiff_t wrap = rank == 0 ? 1 : rank;
    if (dim < -wrap || dim >= wrap) {
        sentence s;
        s << op << ": dim " << static_cast<long long>(dim) << " is out of range for shape ";
        append_shape(s, e);
        s << " (expected a dim in [" << static_cast<long long>(-wrap) << ", " << static_cast<long long>(wrap - 1)
          << "])";
        KATACHI_THROW(shape_mismatch, s.c_str());
    }
    dim_lines s;
    if (rank == 0) return s;
    const auto d = static_cast<std::size_t>(dim < 0 ? dim + rank : dim);
    for (std::size_t i = 0; i < d; ++i) s.outer *= e.shape()[i];
    s.extent = e.shape()[d];
    for (std::size_t i = d + 1; i < e.dimension(); ++i) s.inner *= e.shape()[i];
    return s;
}

}  // namespace katachi::kernels::detail
