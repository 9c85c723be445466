// src/eager/ops/broadcast.hpp: PyTorch's broadcasting for the eager face's ops of several tensors,
// and the PyTorch sentences for dimensions and indices out of range (not installed).
//
// broadcast_shape aligns two shapes at their last dimension; a size of 1 or a missing dimension
// stretches. broadcast_strides reads a contiguous tensor as the broadcast shape (stride 0 along a
// stretched dimension); for_each_broadcast walks the broadcast shape in row-major order with the
// offset of each operand; sum_to sums a gradient of the broadcast shape back to an input's shape.
#pragma once

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "../support.hpp"

namespace katachi::eager::detail {

// "op: The size of tensor a (4) must match the size of tensor b (3) at non-singleton dimension 1
// (shapes [2, 4] and [3] do not broadcast)"
inline sizes broadcast_shape(const char* op, const sizes& a, const sizes& b) {
    const std::size_t rank = std::max(a.size(), b.size());
    sizes out;
    for (std::size_t i = 0; i < rank; ++i) out.push_back(1);
    for (std::size_t i = rank; i-- > 0;) {
        const std::size_t back = rank - 1 - i;
        const std::size_t sa = back < a.size() ? a[a.size() - 1 - back] : 1;
        const std::size_t sb = back < b.size() ? b[b.size() - 1 - back] : 1;
        if (sa != sb && sa != 1 && sb != 1)
            throw shape_mismatch(std::string(op) + ": The size of tensor a (" + std::to_string(sa) +
                                 ") must match the size of tensor b (" + std::to_string(sb) +
                                 ") at non-singleton dimension " + std::to_string(i) + " (shapes " + a.str() +
                                 " and " + b.str() + " do not broadcast)");
        out[i] = sa == 1 ? sb : sa;
    }
    return out;
}

// The strides that read a contiguous tensor of shape `s` as shape `out` (s broadcasts to out).
inline sizes broadcast_strides(const sizes& s, const sizes& out) {
    const sizes own = contiguous_strides(s);
    sizes st;
    const std::size_t lead = out.size() - s.size();
    for (std::size_t i = 0; i < out.size(); ++i)
        st.push_back(i < lead || s[i - lead] == 1 ? 0 : own[i - lead]);
    return st;
}

// f(i, offsets) for every element i of shape `out`, in row-major order, with offsets[k] the element
// of operand k (read with strides[k]).
template <std::size_t K, class F>
void for_each_broadcast(const sizes& out, const std::array<sizes, K>& strides, F&& f) {
    const std::size_t rank = out.size(), n = out.numel();
    std::array<std::size_t, K> off{};
    if (n == 0) return;
    if (rank == 0) {
        f(std::size_t{0}, off);
        return;
    }
    std::array<std::size_t, max_rank> index{};
    const std::size_t last = rank - 1, inner = out[last];
    std::array<std::size_t, K> step{};
    for (std::size_t k = 0; k < K; ++k) step[k] = strides[k][last];
    for (std::size_t done = 0; done < n; done += inner) {
        std::array<std::size_t, K> o = off;
        for (std::size_t j = 0; j < inner; ++j) {
            f(done + j, o);
            for (std::size_t k = 0; k < K; ++k) o[k] += step[k];
        }
        for (std::size_t d = last; d-- > 0;) {
            if (++index[d] < out[d]) {
                for (std::size_t k = 0; k < K; ++k) off[k] += strides[k][d];
                break;
            }
            for (std::size_t k = 0; k < K; ++k) off[k] -= (out[d] - 1) * strides[k][d];
            index[d] = 0;
        }
    }
}

// g (contiguous, of a broadcast shape) summed over the dimensions that `shape` was stretched along.
template <class T>
basic_tensor<T> sum_to(const basic_tensor<T>& g, const sizes& shape) {
    if (g.shape() == shape) return g;
    basic_tensor<T> out = basic_tensor<T>::zeros(shape);
    T* o = out.data();
    const T* gp = g.data();
    for_each_broadcast<1>(g.shape(), {broadcast_strides(shape, g.shape())},
                          [&](std::size_t i, const std::array<std::size_t, 1>& at) { o[at[0]] += gp[i]; });
    return out;
}

// t (contiguous) repeated along the broadcast dimensions to the shape `out`.
template <class T>
basic_tensor<T> broadcast_to(const basic_tensor<T>& t, const sizes& out) {
    if (t.shape() == out) return t;
    basic_tensor<T> y = basic_tensor<T>::empty(out);
    T* yp = y.data();
    const T* tp = t.data();
    for_each_broadcast<1>(out, {broadcast_strides(t.shape(), out)},
                          [&](std::size_t i, const std::array<std::size_t, 1>& at) { yp[i] = tp[at[0]]; });
    return y;
}

// Dimension `dim` of a tensor of rank `rank` (a scalar takes 0 and -1), or std::out_of_range with
// PyTorch's sentence after "op: ".
inline std::size_t torch_dim(const char* op, std::ptrdiff_t dim, std::size_t rank) {
    const auto r = static_cast<std::ptrdiff_t>(std::max<std::size_t>(rank, 1));
    if (dim < -r || dim >= r)
        throw std::out_of_range(std::string(op) + ": Dimension out of range (expected to be in range of [" +
                                std::to_string(-r) + ", " + std::to_string(r - 1) + "], but got " +
                                std::to_string(dim) + ")");
    return static_cast<std::size_t>(dim < 0 ? dim + r : dim);
}

}  // namespace katachi::eager::detail
