// katachi/eager/functional/indexing.hpp: joining tensors (cat, stack) and taking parts of one
// (narrow, select, slice, index_select), with PyTorch's semantics and error sentences.
//
// Dimensions count from the end when negative, and so do the indices of narrow, select and slice. A dimension out of range throws
// std::out_of_range ("narrow: Dimension out of range (expected to be in range of [-2, 1], but got
// 2)"), an index out of range std::out_of_range ("index_select(): index 5 is out of bounds for
// dimension 0 with size 3"), shapes that cannot be joined katachi::shape_mismatch; each sentence
// starts with the operation's name. narrow, select and slice are views (tensor.hpp: x.narrow(...),
// x.select(...), x.slice(...)) whose gradient lands in the part they took; cat, stack and
// index_select copy, and index_select adds the gradient of an index taken twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "katachi/eager/index_tensor.hpp"
#include "katachi/eager/tensor.hpp"

namespace katachi::eager {

// The tensors joined along an existing dimension: equal shapes but in `dim`.
template <class T>
basic_tensor<T> cat(std::span<const basic_tensor<T>> tensors, std::ptrdiff_t dim = 0);
template <class T>
basic_tensor<T> cat(const std::vector<basic_tensor<T>>& tensors, std::ptrdiff_t dim = 0) {
    return cat(std::span<const basic_tensor<T>>(tensors), dim);
}
// The tensors (all of one shape) joined along a new dimension `dim` in [-(rank + 1), rank].
template <class T>
basic_tensor<T> stack(std::span<const basic_tensor<T>> tensors, std::ptrdiff_t dim = 0);
template <class T>
basic_tensor<T> stack(const std::vector<basic_tensor<T>>& tensors, std::ptrdiff_t dim = 0) {
    return stack(std::span<const basic_tensor<T>>(tensors), dim);
}

// Functional forms of the views x.narrow, x.select and x.slice.
template <class T>
basic_tensor<T> narrow(const basic_tensor<T>& x, std::ptrdiff_t dim, std::ptrdiff_t start, std::ptrdiff_t length) {
    return x.narrow(dim, start, length);
}
template <class T>
basic_tensor<T> select(const basic_tensor<T>& x, std::ptrdiff_t dim, std::ptrdiff_t index) {
    return x.select(dim, index);
}
template <class T>
basic_tensor<T> slice(const basic_tensor<T>& x, std::ptrdiff_t dim, std::optional<std::ptrdiff_t> start = std::nullopt,
                      std::optional<std::ptrdiff_t> end = std::nullopt, std::ptrdiff_t step = 1) {
    return x.slice(dim, start, end, step);
}

// The elements at `index` along `dim`, in that order: the result has index.size() in dimension
// dim. Each index lies in [0, size) (PyTorch's index_select takes no negative index either).
template <class T>
basic_tensor<T> index_select(const basic_tensor<T>& x, std::ptrdiff_t dim, std::span<const std::int64_t> index);
template <class T>
basic_tensor<T> index_select(const basic_tensor<T>& x, std::ptrdiff_t dim, std::initializer_list<std::int64_t> index) {
    return index_select(x, dim, std::span<const std::int64_t>(index.begin(), index.size()));
}
// The same with an index tensor, which must have rank 1 (or 0).
template <class T>
basic_tensor<T> index_select(const basic_tensor<T>& x, std::ptrdiff_t dim, const index_tensor& index);

}  // namespace katachi::eager
