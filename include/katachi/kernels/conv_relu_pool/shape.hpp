// katachi/kernels/conv_relu_pool/shape.hpp: the sizes of the direct fused pass
// (kernels/conv_relu_pool.hpp): conv_pool_shape, what the pass fits (conv_pool_fits), and the
// parity-split copy of a sample that both its passes read (conv_pool_spread).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/conv_scratch.hpp"
#include "katachi/kernels/simd.hpp"
#include "katachi/parallel.hpp"

namespace katachi::kernels::detail {

using katachi::detail::parallel_for;
using katachi::detail::parallel_parts;
using katachi::detail::thread_scratch;

// The most taps (channels * kh * kw) the fused pass takes: past it the convolution's products are
// long enough for the lowering or Winograd to run near the processor's peak, and they win.
inline constexpr std::size_t conv_pool_max_taps = 32;
inline constexpr std::size_t conv_pool_lanes = 16;  // pooled columns per register

struct conv_pool_shape {
    std::size_t batch = 0, channels = 0, height = 0, width = 0, out_channels = 0;
    std::size_t kernel_h = 0, kernel_w = 0, pad_h = 0, pad_w = 0;

    constexpr std::size_t conv_height() const { return height + 2 * pad_h - kernel_h + 1; }
    constexpr std::size_t conv_width() const { return width + 2 * pad_w - kernel_w + 1; }
    constexpr std::size_t pooled_height() const { return conv_height() / 2; }
    constexpr std::size_t pooled_width() const { return conv_width() / 2; }
    constexpr std::size_t taps() const { return channels * kernel_h * kernel_w; }
    constexpr std::size_t pooled_size() const { return out_channels * pooled_height() * pooled_width(); }
    // The spread sample: [channels][rows][2 parities][row_length], zero where padded.
    constexpr std::size_t blocks() const { return (pooled_width() + conv_pool_lanes - 1) / conv_pool_lanes; }
    constexpr std::size_t spread_rows() const { return 2 * pooled_height() + kernel_h - 1; }
    constexpr std::size_t row_length() const { return blocks() * conv_pool_lanes + kernel_w / 2 + 1; }
    constexpr std::size_t spread_size() const { return channels * spread_rows() * 2 * row_length(); }
    // A part's scratch: the spread sample, then the backward's vector sums of dW and db.
    constexpr std::size_t sums_size() const { return out_channels * (taps() + 1) * conv_pool_lanes; }
    constexpr std::size_t part_size() const { return spread_size() + sums_size(); }
    // A weight gradient's block per part: dW then db, [out_channels, taps + 1].
    constexpr std::size_t grad_block() const { return out_channels * (taps() + 1); }
};

// Whether a convolution and pooling of these options take the fused pass.
constexpr bool conv_pool_fits(std::size_t taps, std::size_t stride_h, std::size_t stride_w,
                              std::size_t dilation_h, std::size_t dilation_w, std::size_t groups,
                              std::size_t pool_kernel_h, std::size_t pool_kernel_w, std::size_t pool_stride_h,
                              std::size_t pool_stride_w, std::size_t pool_pad_h, std::size_t pool_pad_w,
                              std::size_t pool_dilation_h, std::size_t pool_dilation_w, bool ceil_mode,
                              std::size_t conv_h, std::size_t conv_w) {
    return taps >= 1 && taps <= conv_pool_max_taps && stride_h == 1 && stride_w == 1 && dilation_h == 1 &&
           dilation_w == 1 && groups == 1 && pool_kernel_h == 2 && pool_kernel_w == 2 && pool_stride_h == 2 &&
           pool_stride_w == 2 && pool_pad_h == 0 && pool_pad_w == 0 && pool_dilation_h == 1 &&
           pool_dilation_w == 1 && !ceil_mode && conv_h >= 2 && conv_w >= 2;
}

// One sample x[channels, height, width] spread into d (conv_pool_shape::spread_size elements).
template <class T>
void conv_pool_spread(const conv_pool_shape& s, const T* x, T* d) {
    const std::size_t rows = s.spread_rows(), len = s.row_length();
    std::fill(d, d + s.spread_size(), T(0));
    for (std::size_t c = 0; c < s.channels; ++c)
        for (std::size_t pr = s.pad_h; pr < std::min(rows, s.height + s.pad_h); ++pr) {
            const T* src = x + (c * s.height + (pr - s.pad_h)) * s.width;
            T* even = d + (c * rows + pr) * 2 * len;
            for (std::size_t w = 0; w < s.width; ++w) {
                const std::size_t pw = w + s.pad_w;
                even[(pw & 1) * len + (pw >> 1)] = src[w];
            }
        }
}

}  // namespace katachi::kernels::detail
