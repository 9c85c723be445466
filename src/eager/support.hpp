// src/eager/support.hpp: what the eager face's compiled parts share (not installed).
//
// kernel_view presents a contiguous tensor to the kernels (data(), shape(), dimension(), size());
// for_each_offset walks a strided tensor in row-major order; the error helpers word mismatches the
// same way everywhere: the operation, then both shapes.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "katachi/eager/autograd.hpp"
#include "katachi/eager/tensor.hpp"

namespace katachi::eager::detail {

template <class T>
struct kernel_view {
    using value_type = T;
    T* ptr;
    const sizes* extents;
    T* data() const noexcept { return ptr; }
    const sizes& shape() const noexcept { return *extents; }
    std::size_t dimension() const noexcept { return extents->size(); }
    std::size_t size() const noexcept { return extents->numel(); }
};

// The tensor as the kernels see it; the caller guarantees it is contiguous (see contiguous()).
template <class T>
kernel_view<T> kv(const basic_tensor<T>& t) {
    return {t.data(), &t.shape()};
}

// Calls f(offset) for every element of a tensor with this shape and these strides, in row-major
// order; offsets are in elements from the first one.
template <class F>
void for_each_offset(const sizes& shape, const sizes& strides, F&& f) {
    const std::size_t rank = shape.size(), n = shape.numel();
    if (n == 0) return;
    if (rank == 0) {
        f(std::size_t{0});
        return;
    }
    std::array<std::size_t, max_rank> index{};
    const std::size_t last = rank - 1, inner = shape[last], step = strides[last];
    std::size_t offset = 0;
    for (std::size_t done = 0; done < n; done += inner) {
        for (std::size_t j = 0; j < inner; ++j) f(offset + j * step);
        for (std::size_t d = last; d-- > 0;) {
            if (++index[d] < shape[d]) {
                offset += strides[d];
                break;
            }
            offset -= (shape[d] - 1) * strides[d];
            index[d] = 0;
        }
    }
}

// Dimension `dim` of a tensor of rank `rank`, counted from the end when negative (a scalar takes 0
// and -1); std::out_of_range naming `op` outside.
inline std::size_t wrap_dim(const char* op, std::ptrdiff_t dim, std::size_t rank) {
    const auto r = static_cast<std::ptrdiff_t>(std::max<std::size_t>(rank, 1));
    if (dim < -r || dim >= r)
        throw std::out_of_range(std::string(op) + ": dimension " + std::to_string(dim) +
                                " is out of range for a tensor of rank " + std::to_string(rank));
    return static_cast<std::size_t>(dim < 0 ? dim + r : dim);
}

// A tensor on x's storage at x's offset with this shape and these strides (a view, or detach).
template <class T>
basic_tensor<T> alias(const basic_tensor<T>& x, const sizes& shape, const sizes& strides) {
    auto impl = std::allocate_shared<tensor_impl<T>>(pool_allocator<tensor_impl<T>>{});
    impl->store = x.impl()->store;
    impl->offset = x.impl()->offset;
    impl->shape = shape;
    impl->strides = strides;
    return basic_tensor<T>(std::move(impl));
}

// "op: shapes [2, 3] and [3, 2] do not match"
inline std::string shapes_text(const char* op, const sizes& a, const sizes& b, const char* why) {
    return std::string(op) + ": shapes " + a.str() + " and " + b.str() + " " + why;
}

inline void require_same_shape(const char* op, const sizes& a, const sizes& b) {
    if (!(a == b)) throw shape_mismatch(shapes_text(op, a, b, "do not match; they must be equal"));
}

inline void require_rank(const char* op, const char* arg, const sizes& s, std::size_t rank,
                         const char* layout) {
    if (s.size() != rank)
        throw shape_mismatch(std::string(op) + ": " + arg + " has shape " + s.str() + ", expected rank " +
                             std::to_string(rank) + " " + layout);
}

}  // namespace katachi::eager::detail

namespace katachi::eager::detail {

// Class indices as the loss kernels see them: a read-only [N] (or any shape) of int64.
struct index_view {
    using value_type = std::int64_t;
    const std::int64_t* ptr;
    sizes extents;
    const std::int64_t* data() const noexcept { return ptr; }
    const sizes& shape() const noexcept { return extents; }
    std::size_t dimension() const noexcept { return extents.size(); }
    std::size_t size() const noexcept { return extents.numel(); }
};

// Per-thread scratch for the convolution kernels (grown, never shrunk), so that a training step
// does not allocate im2col matrices.
template <class T>
std::span<T> scratch(std::size_t n) {
    thread_local std::vector<T> buffer;
    if (buffer.size() < n) buffer.resize(n);
    return {buffer.data(), n};
}

}  // namespace katachi::eager::detail
