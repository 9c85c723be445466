// katachi/kernels/pool_common.hpp: checks and size arithmetic shared by the 2-d pooling kernels
// (max_pool2d, avg_pool2d, adaptive_avg_pool2d).
#pragma once

#include <katachi/error.hpp>
#include <array>
#include <cstddef>
#include <iterator>
#include <katachi/kernels/common.hpp>
#include <katachi/shape.hpp>
#include <string>

namespace katachi::kernels::detail {

inline std::string pooling_rank_text(const std::string& op, const std::string& arg,
                                     const std::string& shape) {
    return op + ": " + arg + " has shape " + shape +
           " but pooling needs rank 4, [N, C, H, W] (give a single image a leading batch dimension of 1)";
}

// Rank 4 and row-major contiguous, with a sentence that says which rank is expected and why.
template <class E>
void require_pooling_batch(const char* op, const char* arg, const E& e) {
    if (e.dimension() != 4) KATACHI_THROW(shape_mismatch, pooling_rank_text(op, arg, shape_text(e)));
    require_rank(op, arg, e, 4);
}

template <class S>
std::string sequence_text(const S& s) {
    std::string out = "[";
    std::size_t i = 0;
    for (auto d : s) out += (i++ ? ", " : "") + std::to_string(d);
    return out + "]";
}

// An input shape (any sequence of sizes, e.g. x.shape()) as an [N, C, H, W] array.
template <class S>
std::array<std::size_t, 4> pooling_input_dims(const char* op, const S& x_shape) {
    if (std::size(x_shape) != 4) KATACHI_THROW(shape_mismatch, pooling_rank_text(op, "input", sequence_text(x_shape)));
    std::array<std::size_t, 4> dims{};
    std::size_t i = 0;
    for (auto d : x_shape) dims[i++] = static_cast<std::size_t>(d);
    return dims;
}

// A stride of {0, 0} stands for the kernel size; a single zero is left for pool_output to reject.
inline std::array<std::size_t, 2> pooling_stride(const std::array<std::size_t, 2>& stride,
                                                 const std::array<std::size_t, 2>& kernel_size) {
    return stride[0] == 0 && stride[1] == 0 ? kernel_size : stride;
}

// Checks that dx has the batch and channel sizes of dy (pooling backward passes).
template <class DX, class DY>
void require_same_planes(const char* op, const DX& dx, const DY& dy) {
    if (dx.shape()[0] != dy.shape()[0] || dx.shape()[1] != dy.shape()[1])
        KATACHI_THROW(shape_mismatch, std::string(op) + ": dx has shape " + shape_text(dx) + " but dy has shape " +
                             shape_text(dy) + "; their batch and channel sizes must be equal");
}

}  // namespace katachi::kernels::detail
