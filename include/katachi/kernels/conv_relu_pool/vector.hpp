// katachi/kernels/conv_relu_pool/vector.hpp: the direct fused pass in AVX-512 registers, 16
// pooled columns and two output channels at a time (float, where avx512_available()).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "katachi/kernels/conv_relu_pool/shape.hpp"
#include "katachi/kernels/simd.hpp"

namespace katachi::kernels::detail {

#if KATACHI_AVX2_CODE
// The lanes [0, count) of 16.
KATACHI_TARGET_AVX512 inline __mmask16 conv_pool_lanes_below(std::size_t count) {
    return count >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << count) - 1);
}

// The four convolution outputs of the windows of pooled row r, pooled columns j0.. (16 lanes), of
// two output channels at once (they share every load): a[0..3] and b[0..3] in window order (0,0),
// (0,1), (1,0), (1,1). d is the spread sample, wa and wb the channels' taps [channels, kh, kw].
KATACHI_TARGET_AVX512 inline void conv_pool_windows(const conv_pool_shape& s, const float* d, const float* wa,
                                                    const float* wb, float bias_a, float bias_b,
                                                    std::size_t r, std::size_t j0, __m512 a[4], __m512 b[4]) {
    const std::size_t rows = s.spread_rows(), len = s.row_length(), kh = s.kernel_h, kw = s.kernel_w;
    __m512 a00 = _mm512_set1_ps(bias_a), a01 = a00, a10 = a00, a11 = a00;
    __m512 b00 = _mm512_set1_ps(bias_b), b01 = b00, b10 = b00, b11 = b00;
    for (std::size_t c = 0; c < s.channels; ++c)
        for (std::size_t i = 0; i < kh; ++i) {
            const float* top =
                d + (c * rows + 2 * r + i) * 2 * len + j0;  // window row 0 reads spread row 2r + i
            const float* bottom = top + 2 * len;            // window row 1: 2r + i + 1
            const std::size_t t0 = (c * kh + i) * kw;
            for (std::size_t k = 0; k < kw; ++k) {
                // Window column 0 reads padded column 2j + k, column 1 reads 2j + k + 1.
                const std::size_t at0 = (k & 1) * len + (k >> 1), at1 = ((k + 1) & 1) * len + ((k + 1) >> 1);
                const __m512 x00 = _mm512_loadu_ps(top + at0), x01 = _mm512_loadu_ps(top + at1);
                const __m512 x10 = _mm512_loadu_ps(bottom + at0), x11 = _mm512_loadu_ps(bottom + at1);
                const __m512 u = _mm512_set1_ps(wa[t0 + k]), v = _mm512_set1_ps(wb[t0 + k]);
                a00 = _mm512_fmadd_ps(u, x00, a00);
                a01 = _mm512_fmadd_ps(u, x01, a01);
                a10 = _mm512_fmadd_ps(u, x10, a10);
                a11 = _mm512_fmadd_ps(u, x11, a11);
                b00 = _mm512_fmadd_ps(v, x00, b00);
                b01 = _mm512_fmadd_ps(v, x01, b01);
                b10 = _mm512_fmadd_ps(v, x10, b10);
                b11 = _mm512_fmadd_ps(v, x11, b11);
            }
        }
    a[0] = a00, a[1] = a01, a[2] = a10, a[3] = a11;
    b[0] = b00, b[1] = b01, b[2] = b10, b[3] = b11;
}

// The pooled value (after the relu) of four window candidates and, with `at`, their window
// position, stored for `count` lanes.
KATACHI_TARGET_AVX512 inline void conv_pool_store(const __m512 a[4], std::size_t count, float* y,
                                                  std::uint8_t* at) {
    __m512 best = a[0];
    __m512i position = _mm512_setzero_si512();
    for (int k = 1; k < 4; ++k) {  // a later candidate wins when greater or NaN
        const __mmask16 take =
            _mm512_cmp_ps_mask(a[k], best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(a[k], a[k], _CMP_UNORD_Q);
        best = _mm512_mask_mov_ps(best, take, a[k]);
        position = _mm512_mask_mov_epi32(position, take, _mm512_set1_epi32(k));
    }
    const __mmask16 keep = conv_pool_lanes_below(count);
    const __m512 zero = _mm512_setzero_ps();
    // max(0, v) is the relu's v < 0 ? 0 : v, NaN and -0 included (max returns its second operand
    // when the two compare equal or unordered). The masked forms here and below: GCC 12 warns of
    // the unmasked ones' undefined source.
    _mm512_mask_storeu_ps(y, keep, _mm512_mask_max_ps(zero, keep, zero, best));
    if (at != nullptr) _mm512_mask_cvtepi32_storeu_epi8(at, keep, position);
}

// The pooled outputs y[out_channels, Hp, Wp] of one spread sample for the channels o_first <= o <
// co (o_first even), and with `at` (may be null) their window positions.
KATACHI_TARGET_AVX512 inline void conv_pool_forward_sample(const conv_pool_shape& s, const float* d,
                                                           const float* w, const float* bias, float* y,
                                                           std::uint8_t* at, std::size_t o_first,
                                                           std::size_t co) {
    const std::size_t hp = s.pooled_height(), wp = s.pooled_width(), taps = s.taps();
    for (std::size_t o = o_first; o < co; o += 2) {
        const std::size_t p =
            std::min(o + 1, co - 1);  // the pair's second channel (the first again at an odd end)
        for (std::size_t r = 0; r < hp; ++r)
            for (std::size_t j0 = 0; j0 < wp; j0 += conv_pool_lanes) {
                __m512 a[4], b[4];
                conv_pool_windows(s, d, w + o * taps, w + p * taps, bias ? bias[o] : 0.f,
                                  bias ? bias[p] : 0.f, r, j0, a, b);
                const std::size_t count = std::min(conv_pool_lanes, wp - j0);
                const std::size_t at_a = (o * hp + r) * wp + j0, at_b = (p * hp + r) * wp + j0;
                conv_pool_store(a, count, y + at_a, at ? at + at_a : nullptr);
                if (p != o) conv_pool_store(b, count, y + at_b, at ? at + at_b : nullptr);
            }
    }
}

// The pooled gradient of row r, columns j0.. (16 lanes) of one channel, sent to its window
// positions: g[k] holds it where the maximum sat at position k and the pooled value is positive
// (the relu's backward), else 0. Adds the whole onto the bias sums sb. `whole`: 16 bytes may be
// read from at (the lanes past count are ignored); else only count are. (Copying count bytes to
// the stack and reading 16 back stalls the load until the copy's stores retire: AVX-512F has no
// masked byte load.)
KATACHI_TARGET_AVX512 inline void conv_pool_window_grads(const float* dy, const float* y,
                                                         const std::uint8_t* at, std::size_t count,
                                                         bool whole, float* sb, __m512 g[4]) {
    const __mmask16 keep = conv_pool_lanes_below(count);
    const __mmask16 live =
        _mm512_mask_cmp_ps_mask(keep, _mm512_maskz_loadu_ps(keep, y), _mm512_setzero_ps(), _CMP_GT_OQ);
    const __m512 grad = _mm512_maskz_loadu_ps(live, dy);
    __m128i raw;
    if (whole) {
        raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
    } else {
        alignas(16) std::uint8_t bytes[16] = {};
        std::memcpy(bytes, at, count);
        raw = _mm_load_si128(reinterpret_cast<const __m128i*>(bytes));
    }
    const __m512i position = _mm512_maskz_cvtepu8_epi32(__mmask16(0xFFFF), raw);
    for (int k = 0; k < 4; ++k)
        g[k] = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(position, _mm512_set1_epi32(k)), grad);
    _mm512_storeu_ps(sb, _mm512_add_ps(_mm512_loadu_ps(sb), grad));
}

// Blocks of 16 pooled columns whose window gradients conv_pool_grad_sample keeps at a time: 16
// blocks of two channels' four candidates are 8 KiB, in the first-level cache.
inline constexpr std::size_t conv_pool_grad_blocks = 16;

// Adds one sample's dW and db, as 16-lane vector sums, onto sums [out_channels][taps + 1][16]: dy,
// y and at are the sample's pooled gradient, pooled outputs and window positions, and at_room the
// bytes that may be read from at (the batch's positions from this sample's on). Two output
// channels at a time, which share the loads of the input. For a run of up to conv_pool_grad_blocks
// blocks (row r, columns j0..) it first sends the pooled gradient to the window positions, then
// sums each tap over the run in eight registers (two channels x four window positions): the sums
// go to memory once a tap and run, not once a tap and block.
KATACHI_TARGET_AVX512 inline void conv_pool_grad_sample(const conv_pool_shape& s, const float* d,
                                                        const float* dy, const float* y,
                                                        const std::uint8_t* at, std::size_t at_room,
                                                        float* sums) {
    const std::size_t hp = s.pooled_height(), wp = s.pooled_width(), taps = s.taps(), co = s.out_channels;
    const std::size_t rows = s.spread_rows(), len = s.row_length(), kh = s.kernel_h, kw = s.kernel_w;
    const std::size_t step = (taps + 1) * conv_pool_lanes;
    const std::size_t per_row = (wp + conv_pool_lanes - 1) / conv_pool_lanes, blocks = hp * per_row;
    __m512 g[conv_pool_grad_blocks][8];  // per block: channel o's four candidates, then p's
    for (std::size_t o = 0; o < co; o += 2) {
        // The pair's second channel; at an odd end the first again, with its gradient zero.
        const std::size_t p = std::min(o + 1, co - 1);
        float* sa = sums + o * step;
        float* sp = sums + p * step;
        for (std::size_t b0 = 0; b0 < blocks; b0 += conv_pool_grad_blocks) {
            const std::size_t run = std::min(conv_pool_grad_blocks, blocks - b0);
            for (std::size_t b = 0; b < run; ++b) {
                const std::size_t r = (b0 + b) / per_row, j0 = (b0 + b) % per_row * conv_pool_lanes;
                const std::size_t count = std::min(conv_pool_lanes, wp - j0);
                const std::size_t at_a = (o * hp + r) * wp + j0, at_b = (p * hp + r) * wp + j0;
                conv_pool_window_grads(dy + at_a, y + at_a, at + at_a, count, at_a + 16 <= at_room,
                                       sa + taps * conv_pool_lanes, g[b]);
                if (p != o)
                    conv_pool_window_grads(dy + at_b, y + at_b, at + at_b, count, at_b + 16 <= at_room,
                                           sp + taps * conv_pool_lanes, g[b] + 4);
                else
                    g[b][4] = g[b][5] = g[b][6] = g[b][7] = _mm512_setzero_ps();
            }
            for (std::size_t c = 0; c < s.channels; ++c)
                for (std::size_t i = 0; i < kh; ++i)
                    for (std::size_t k = 0; k < kw; ++k) {
                        const std::size_t at0 = (k & 1) * len + (k >> 1),
                                          at1 = ((k + 1) & 1) * len + ((k + 1) >> 1);
                        __m512 u[4], v[4];
                        for (int q = 0; q < 4; ++q) u[q] = v[q] = _mm512_setzero_ps();
                        for (std::size_t b = 0; b < run; ++b) {
                            const std::size_t r = (b0 + b) / per_row,
                                              j0 = (b0 + b) % per_row * conv_pool_lanes;
                            const float* top = d + (c * rows + 2 * r + i) * 2 * len + j0;
                            const float* bottom = top + 2 * len;
                            const __m512 x[4] = {_mm512_loadu_ps(top + at0), _mm512_loadu_ps(top + at1),
                                                 _mm512_loadu_ps(bottom + at0),
                                                 _mm512_loadu_ps(bottom + at1)};
                            for (int q = 0; q < 4; ++q) {
                                u[q] = _mm512_fmadd_ps(g[b][q], x[q], u[q]);
                                v[q] = _mm512_fmadd_ps(g[b][4 + q], x[q], v[q]);
                            }
                        }
                        const std::size_t t = ((c * kh + i) * kw + k) * conv_pool_lanes;
                        const __m512 su = _mm512_add_ps(_mm512_add_ps(u[0], u[1]), _mm512_add_ps(u[2], u[3]));
                        const __m512 sv = _mm512_add_ps(_mm512_add_ps(v[0], v[1]), _mm512_add_ps(v[2], v[3]));
                        // At an odd end sa and sp are one: su carries the sums, sv added zeros.
                        if (p != o) _mm512_storeu_ps(sp + t, _mm512_add_ps(_mm512_loadu_ps(sp + t), sv));
                        _mm512_storeu_ps(sa + t, _mm512_add_ps(_mm512_loadu_ps(sa + t), su));
                    }
        }
    }
}
#endif

// The 16-lane sums of a part folded into its block [out_channels, taps + 1].
inline void conv_pool_fold_sums(const conv_pool_shape& s, const float* sums, float* block) {
    for (std::size_t i = 0; i < s.grad_block(); ++i) {
        float total = 0.f;
        for (std::size_t l = 0; l < conv_pool_lanes; ++l) total += sums[i * conv_pool_lanes + l];
        block[i] = total;
    }
}
}  // namespace katachi::kernels::detail
