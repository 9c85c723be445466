// katachi/kernels/conv_relu_pool/portable.hpp: the direct fused pass one element at a time, in
// any scalar type (double, and processors without AVX-512).
#pragma once

#include <cstddef>
#include <cstdint>

#include "katachi/kernels/conv_relu_pool/shape.hpp"

namespace katachi::kernels::detail {

// The portable pass, in any T: the same outputs, positions and gradients one element at a time
// (the sums in another order than the vector pass's fused multiply-adds). Where the maximum sat is
// known, so the backward visits that one window position rather than all four.
template <class T>
void conv_pool_forward_sample_portable(const conv_pool_shape& s, const T* d, const T* w, const T* bias, T* y,
                                       std::uint8_t* at, std::size_t o_first, std::size_t o_last) {
    const std::size_t hp = s.pooled_height(), wp = s.pooled_width(), taps = s.taps();
    const std::size_t rows = s.spread_rows(), len = s.row_length(), kh = s.kernel_h, kw = s.kernel_w;
    for (std::size_t o = o_first; o < o_last; ++o)
        for (std::size_t r = 0; r < hp; ++r)
            for (std::size_t j = 0; j < wp; ++j) {
                T q[4];
                for (std::size_t k = 0; k < 4; ++k) {
                    const std::size_t dr = k >> 1, dc = k & 1;
                    T acc = bias != nullptr ? bias[o] : T(0);
                    for (std::size_t c = 0; c < s.channels; ++c)
                        for (std::size_t i = 0; i < kh; ++i) {
                            const T* row = d + (c * rows + 2 * r + dr + i) * 2 * len + j;
                            const T* wt = w + o * taps + (c * kh + i) * kw;
                            for (std::size_t t = 0; t < kw; ++t) {
                                const std::size_t m = dc + t;
                                acc += wt[t] * row[(m & 1) * len + (m >> 1)];
                            }
                        }
                    q[k] = acc;
                }
                T best = q[0];
                std::uint8_t position = 0;
                for (std::size_t k = 1; k < 4; ++k)  // a later candidate wins when greater or NaN
                    if (q[k] > best || q[k] != q[k]) best = q[k], position = static_cast<std::uint8_t>(k);
                const std::size_t out = (o * hp + r) * wp + j;
                y[out] = best < T(0) ? T(0) : best;
                if (at != nullptr) at[out] = position;
            }
}

// Adds one sample's dW and db onto block [out_channels, taps + 1].
template <class T>
void conv_pool_grad_sample_portable(const conv_pool_shape& s, const T* d, const T* dy, const T* y,
                                    const std::uint8_t* at, T* block) {
    const std::size_t hp = s.pooled_height(), wp = s.pooled_width(), taps = s.taps();
    const std::size_t rows = s.spread_rows(), len = s.row_length(), kh = s.kernel_h, kw = s.kernel_w;
    for (std::size_t o = 0; o < s.out_channels; ++o) {
        T* bo = block + o * (taps + 1);
        for (std::size_t r = 0; r < hp; ++r)
            for (std::size_t j = 0; j < wp; ++j) {
                const std::size_t out = (o * hp + r) * wp + j;
                if (!(y[out] > T(0))) continue;  // the relu's backward
                const T g = dy[out];
                const std::size_t dr = at[out] >> 1, dc = at[out] & 1;
                for (std::size_t c = 0; c < s.channels; ++c)
                    for (std::size_t i = 0; i < kh; ++i) {
                        const T* row = d + (c * rows + 2 * r + dr + i) * 2 * len + j;
                        T* bt = bo + (c * kh + i) * kw;
                        for (std::size_t t = 0; t < kw; ++t) {
                            const std::size_t m = dc + t;
                            bt[t] += g * row[(m & 1) * len + (m >> 1)];
                        }
                    }
                bo[taps] += g;
            }
    }
}

// Whether the vector pass runs for T here (else the portable one).
}  // namespace katachi::kernels::detail
