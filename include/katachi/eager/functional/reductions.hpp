// katachi/eager/functional/reductions.hpp: reductions along one dimension, as PyTorch's
// sum(dim, keepdim), mean(dim, keepdim), max(dim, keepdim), min(dim, keepdim), argmax and argmin.
//
// The dimension counts from the end when negative (a rank-0 tensor takes 0 and -1); outside, they
// throw std::out_of_range with PyTorch's sentence after the operation's name ("sum: Dimension out
// of range (expected to be in range of [-2, 1], but got 2)"). keepdim keeps the reduced dimension
// with size 1. max and min return the values and the indices of the chosen elements (the first one
// among equals; NaN wins, as in PyTorch) and pass the gradient to the chosen element only. A
// reduction over a dimension of size 0 throws for max, min, argmax and argmin (there is nothing to
// choose), as in PyTorch. The whole-tensor sum and mean are in arithmetic.hpp.
#pragma once

#include <cstddef>

#include "katachi/eager/index_tensor.hpp"
#include "katachi/eager/tensor.hpp"

namespace katachi::eager {

template <class T>
basic_tensor<T> sum(const basic_tensor<T>& x, std::ptrdiff_t dim, bool keepdim = false);
template <class T>
basic_tensor<T> mean(const basic_tensor<T>& x, std::ptrdiff_t dim, bool keepdim = false);

// What max and min along a dimension return (torch.return_types.max): auto [values, indices] = ...
template <class T>
struct values_and_indices {
    basic_tensor<T> values;
    index_tensor indices;
};

template <class T>
values_and_indices<T> max(const basic_tensor<T>& x, std::ptrdiff_t dim, bool keepdim = false);
template <class T>
values_and_indices<T> min(const basic_tensor<T>& x, std::ptrdiff_t dim, bool keepdim = false);
template <class T>
index_tensor argmax(const basic_tensor<T>& x, std::ptrdiff_t dim, bool keepdim = false);
template <class T>
index_tensor argmin(const basic_tensor<T>& x, std::ptrdiff_t dim, bool keepdim = false);

}  // namespace katachi::eager
