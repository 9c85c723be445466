// katachi/kernels/flatten.hpp: flatten's shape rule and reshapes that alias memory.
//
// flatten_shape(shape, start_dim, end_dim) merges dimensions start_dim..end_dim (inclusive) into
// one, with PyTorch's semantics: negative dimensions count from the end, a rank-0 shape flattens to
// [1], start_dim after end_dim is an error. The default start_dim = 1 keeps the batch dimension,
// as nn.Flatten does.
//
// reshape_view(x, shape) and flatten_view(x, start_dim, end_dim) return a non-owning xtensor
// adaptor over x's memory: no copy, writes go through to x, and x must outlive the view. x must
// be row-major contiguous. One entry of `shape` may be -1 and is then inferred from the element
// count. Flatten has no kernel of its own: its forward is flatten_view(x) and its backward is the
// reshape back, reshape_view(dy, x.shape()).
#pragma once

#include <katachi/error.hpp>
#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <katachi/kernels/common.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>
#include <xtensor/xadapt.hpp>

namespace katachi::kernels {

namespace detail {

template <class S>
std::string signed_sequence_text(const S& s) {
    std::string out = "[";
    std::size_t i = 0;
    for (auto d : s) out += (i++ ? ", " : "") + std::to_string(static_cast<std::ptrdiff_t>(d));
    return out + "]";
}

// PyTorch's dimension wrapping: dim in [-rank, rank), where a rank-0 shape counts as rank 1.
inline std::size_t wrap_dim(const char* op, std::ptrdiff_t dim, std::size_t rank) {
    const auto r = static_cast<std::ptrdiff_t>(std::max<std::size_t>(rank, 1));
    if (dim < -r || dim >= r)
        KATACHI_THROW(std::out_of_range, std::string(op) + ": dimension " + std::to_string(dim) +
                                " is out of range for rank " + std::to_string(rank) + " (expected one in [" +
                                std::to_string(-r) + ", " + std::to_string(r - 1) + "])");
    return static_cast<std::size_t>(dim < 0 ? dim + r : dim);
}

template <class E, class It>
auto reshape_view_from(E& x, It first, It last) {
    constexpr const char* op = "reshape_view";
    if (!is_row_major_contiguous(x))
        KATACHI_THROW(shape_mismatch, std::string(op) + ": x of shape " + shape_text(x) +
                             " is not row-major contiguous; a view needs a contiguous copy");
    std::vector<std::size_t> shape;
    std::size_t known = 1, inferred_at = 0, inferred = 0;
    const std::vector<std::ptrdiff_t> wanted(first, last);
    for (std::ptrdiff_t d : wanted) {
        if (d == -1) {
            inferred_at = shape.size();
            ++inferred;
            shape.push_back(1);
        } else if (d < 0) {
            KATACHI_THROW(shape_mismatch, std::string(op) + ": the new shape " + signed_sequence_text(wanted) +
                                 " has a negative size other than -1");
        } else {
            shape.push_back(static_cast<std::size_t>(d));
            known *= static_cast<std::size_t>(d);
        }
    }
    const std::size_t count = x.size();
    auto mismatch = [&](const std::string& why) {
        return shape_mismatch(std::string(op) + ": cannot view x of shape " + shape_text(x) + " (" +
                              std::to_string(count) + " elements) as " + signed_sequence_text(wanted) + ": " +
                              why);
    };
    if (inferred > 1) KATACHI_THROW(mismatch, "only one size may be -1");
    if (inferred == 1) {
        if (known == 0 || count % known != 0) KATACHI_THROW(mismatch, "no size for -1 gives that many elements");
        shape[inferred_at] = count / known;
    } else if (known != count) {
        KATACHI_THROW(mismatch, "the element counts differ");
    }
    return xt::adapt(data_of(x), count, xt::no_ownership(), shape);
}

}  // namespace detail

// The shape after merging dimensions start_dim..end_dim of `shape` (any sequence of sizes).
template <class S>
std::vector<std::size_t> flatten_shape(const S& shape, std::ptrdiff_t start_dim = 1,
                                       std::ptrdiff_t end_dim = -1) {
    constexpr const char* op = "flatten_shape";
    const std::vector<std::size_t> in(std::begin(shape), std::end(shape));
    const std::size_t start = detail::wrap_dim(op, start_dim, in.size());
    const std::size_t end = detail::wrap_dim(op, end_dim, in.size());
    if (start > end)
        KATACHI_THROW(std::invalid_argument, std::string(op) + ": start_dim " + std::to_string(start_dim) +
                                    " comes after end_dim " + std::to_string(end_dim) + " for shape " +
                                    detail::signed_sequence_text(in));
    if (in.empty()) return {1};
    std::vector<std::size_t> out(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(start));
    std::size_t merged = 1;
    for (std::size_t i = start; i <= end; ++i) merged *= in[i];
    out.push_back(merged);
    out.insert(out.end(), in.begin() + static_cast<std::ptrdiff_t>(end) + 1, in.end());
    return out;
}

inline std::vector<std::size_t> flatten_shape(std::initializer_list<std::size_t> shape,
                                              std::ptrdiff_t start_dim = 1, std::ptrdiff_t end_dim = -1) {
    return flatten_shape(std::vector<std::size_t>(shape), start_dim, end_dim);
}

// A view of x with another shape: any sequence of sizes, or a braced list such as {-1, 12}, with
// -1 once for an inferred size. For lvalue arguments these overloads are more specialised than
// xt::reshape_view, which argument-dependent lookup also finds, so an unqualified call picks them.
template <class E, class S>
requires requires(const S& s) {
    std::begin(s);
    std::end(s);
}
auto reshape_view(E& x, S&& shape) {
    return detail::reshape_view_from(x, std::begin(shape), std::end(shape));
}

template <class E, class I, std::size_t N>
requires std::is_integral_v<I>
auto reshape_view(E& x, const I (&shape)[N]) {
    return detail::reshape_view_from(x, std::begin(shape), std::end(shape));
}

// flatten's forward: a view of x with dimensions start_dim..end_dim merged.
template <class E>
auto flatten_view(E& x, std::ptrdiff_t start_dim = 1, std::ptrdiff_t end_dim = -1) {
    return kernels::reshape_view(x, kernels::flatten_shape(x.shape(), start_dim, end_dim));
}

}  // namespace katachi::kernels
