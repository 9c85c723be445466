// katachi/kernels/conv_relu_pool.hpp: a convolution with few taps, the relu after it and the 2x2
// max pooling of stride 2 after that, in one pass that never writes the convolution's full-size
// output (the graph face's conv_relu_max_pool2d, graph/fusion.hpp).
//
// The convolution has stride 1, no dilation, one group and channels * kh * kw at most
// conv_pool_max_taps (a network's first convolution: one or three channels); the pooling has
// kernel 2, stride 2, no padding, floor mode. Each pooled output is the largest of its window's
// four convolution outputs, with the relu applied after (the relu is monotone, so this is the
// relu's pooling), and its window position (0..3, row-major) is kept for the backward as the 2x2
// pooling keeps it (max_pool2d/plain_2x2.hpp: a later candidate wins when greater or NaN).
//
// The sample is first copied with its padding into rows split by column parity ("spread"): the
// four outputs of a window row block are then, for each tap, contiguous loads, 16 pooled columns
// to a 512-bit register. The backward sends each pooled gradient (where the pooled value is
// positive) to its window position and sums dW and db from it in the same registers: no
// full-size gradient is written either. The input gradient (rarely wanted: such a convolution is
// usually a network's first) goes back from each window's one position to the input.
//
// In float on processors with AVX-512F the windows go 16 to a register (conv_pool_vector_runs);
// elsewhere, and in double, a portable pass computes the same one element at a time, so a small
// device keeps the memory saving too.
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

// The pooled outputs y[out_channels, Hp, Wp] of one spread sample, and with `at` (may be null)
// their window positions.
KATACHI_TARGET_AVX512 inline void conv_pool_forward_sample(const conv_pool_shape& s, const float* d,
                                                           const float* w, const float* bias, float* y,
                                                           std::uint8_t* at) {
    const std::size_t hp = s.pooled_height(), wp = s.pooled_width(), taps = s.taps(), co = s.out_channels;
    for (std::size_t o = 0; o < co; o += 2) {
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
// (the relu's backward), else 0. Adds the whole onto the bias sums sb.
KATACHI_TARGET_AVX512 inline void conv_pool_window_grads(const float* dy, const float* y,
                                                         const std::uint8_t* at, std::size_t count, float* sb,
                                                         __m512 g[4]) {
    const __mmask16 keep = conv_pool_lanes_below(count);
    const __mmask16 live =
        _mm512_mask_cmp_ps_mask(keep, _mm512_maskz_loadu_ps(keep, y), _mm512_setzero_ps(), _CMP_GT_OQ);
    const __m512 grad = _mm512_maskz_loadu_ps(live, dy);
    alignas(16) std::uint8_t bytes[16] = {};
    std::memcpy(bytes, at, count);
    const __m512i position = _mm512_maskz_cvtepu8_epi32(
        __mmask16(0xFFFF), _mm_load_si128(reinterpret_cast<const __m128i*>(bytes)));
    for (int k = 0; k < 4; ++k)
        g[k] = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(position, _mm512_set1_epi32(k)), grad);
    _mm512_storeu_ps(sb, _mm512_add_ps(_mm512_loadu_ps(sb), grad));
}

// Adds one sample's dW and db, as 16-lane vector sums, onto sums [out_channels][taps + 1][16]: dy,
// y and at are the sample's pooled gradient, pooled outputs and window positions. Two output
// channels at a time, which share the loads of the input.
KATACHI_TARGET_AVX512 inline void conv_pool_grad_sample(const conv_pool_shape& s, const float* d,
                                                        const float* dy, const float* y,
                                                        const std::uint8_t* at, float* sums) {
    const std::size_t hp = s.pooled_height(), wp = s.pooled_width(), taps = s.taps(), co = s.out_channels;
    const std::size_t rows = s.spread_rows(), len = s.row_length(), kh = s.kernel_h, kw = s.kernel_w;
    const std::size_t step = (taps + 1) * conv_pool_lanes;
    for (std::size_t o = 0; o < co; o += 2) {
        // The pair's second channel; at an odd end the first again, with its gradient zero.
        const std::size_t p = std::min(o + 1, co - 1);
        float* sa = sums + o * step;
        float* sp = sums + p * step;
        for (std::size_t r = 0; r < hp; ++r)
            for (std::size_t j0 = 0; j0 < wp; j0 += conv_pool_lanes) {
                const std::size_t count = std::min(conv_pool_lanes, wp - j0);
                const std::size_t at_a = (o * hp + r) * wp + j0, at_b = (p * hp + r) * wp + j0;
                __m512 ga[4], gb[4];
                conv_pool_window_grads(dy + at_a, y + at_a, at + at_a, count, sa + taps * conv_pool_lanes,
                                       ga);
                if (p != o)
                    conv_pool_window_grads(dy + at_b, y + at_b, at + at_b, count, sp + taps * conv_pool_lanes,
                                           gb);
                else
                    gb[0] = gb[1] = gb[2] = gb[3] = _mm512_setzero_ps();
                for (std::size_t c = 0; c < s.channels; ++c)
                    for (std::size_t i = 0; i < kh; ++i) {
                        const float* top = d + (c * rows + 2 * r + i) * 2 * len + j0;
                        const float* bottom = top + 2 * len;
                        for (std::size_t k = 0; k < kw; ++k) {
                            const std::size_t at0 = (k & 1) * len + (k >> 1),
                                              at1 = ((k + 1) & 1) * len + ((k + 1) >> 1);
                            const __m512 x00 = _mm512_loadu_ps(top + at0), x01 = _mm512_loadu_ps(top + at1);
                            const __m512 x10 = _mm512_loadu_ps(bottom + at0),
                                         x11 = _mm512_loadu_ps(bottom + at1);
                            const std::size_t t = ((c * kh + i) * kw + k) * conv_pool_lanes;
                            __m512 u = _mm512_loadu_ps(sa + t), v = _mm512_loadu_ps(sp + t);
                            u = _mm512_fmadd_ps(ga[0], x00, u);
                            v = _mm512_fmadd_ps(gb[0], x00, v);
                            u = _mm512_fmadd_ps(ga[1], x01, u);
                            v = _mm512_fmadd_ps(gb[1], x01, v);
                            u = _mm512_fmadd_ps(ga[2], x10, u);
                            v = _mm512_fmadd_ps(gb[2], x10, v);
                            u = _mm512_fmadd_ps(ga[3], x11, u);
                            v = _mm512_fmadd_ps(gb[3], x11, v);
                            // At an odd end sa and sp are one: u carries the sums, v added zeros.
                            if (p != o) _mm512_storeu_ps(sp + t, v);
                            _mm512_storeu_ps(sa + t, u);
                        }
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

// The portable pass, in any T: the same outputs, positions and gradients one element at a time
// (the sums in another order than the vector pass's fused multiply-adds). Where the maximum sat is
// known, so the backward visits that one window position rather than all four.
template <class T>
void conv_pool_forward_sample_portable(const conv_pool_shape& s, const T* d, const T* w, const T* bias, T* y,
                                       std::uint8_t* at) {
    const std::size_t hp = s.pooled_height(), wp = s.pooled_width(), taps = s.taps();
    const std::size_t rows = s.spread_rows(), len = s.row_length(), kh = s.kernel_h, kw = s.kernel_w;
    for (std::size_t o = 0; o < s.out_channels; ++o)
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
template <class T>
bool conv_pool_vector_runs() {
#if KATACHI_AVX2_CODE
    return std::is_same_v<T, float> && avx512_available();
#else
    return false;
#endif
}

// The fused forward over the batch: x[batch, channels, height, width], w[out_channels, channels,
// kh, kw], bias (may be null), y[batch, out_channels, Hp, Wp], at (may be null) the window
// positions in y's order. ws holds conv_pool_shape::part_size elements (part 0; the others use
// their thread's conv scratch). `vector` (where conv_pool_vector_runs) picks the AVX-512 pass.
template <class T>
void conv_relu_pool_forward(const conv_pool_shape& s, const T* x, const T* w, const T* bias, T* y,
                            std::uint8_t* at, T* ws,
                            [[maybe_unused]] bool vector = conv_pool_vector_runs<T>()) {
    const std::size_t image = s.channels * s.height * s.width, pooled = s.pooled_size();
    parallel_for(s.batch, parallel_parts(s.batch), [&](std::size_t n0, std::size_t n1, unsigned part) {
        T* d = part == 0 ? ws : thread_scratch<T, conv_part_scratch_tag>(s.part_size());
        for (std::size_t n = n0; n < n1; ++n) {
            conv_pool_spread(s, x + n * image, d);
            std::uint8_t* sample_at = at != nullptr ? at + n * pooled : nullptr;
#if KATACHI_AVX2_CODE
            if constexpr (std::is_same_v<T, float>)
                if (vector) {
                    conv_pool_forward_sample(s, d, w, bias, y + n * pooled, sample_at);
                    continue;
                }
#endif
            conv_pool_forward_sample_portable(s, d, w, bias, y + n * pooled, sample_at);
        }
    });
}

// The fused weight and bias gradients for the pooled gradient dy (shapes as the forward's; y and at
// the forward's outputs): dw[out_channels, channels, kh, kw] and db (each may be null), written or
// with write::accumulate added.
template <class T>
void conv_relu_pool_weight_grad(const conv_pool_shape& s, const T* x, const T* dy, const T* y,
                                const std::uint8_t* at, T* dw, T* db, T* ws, write mode,
                                [[maybe_unused]] bool vector = conv_pool_vector_runs<T>()) {
    const std::size_t image = s.channels * s.height * s.width, pooled = s.pooled_size(),
                      block = s.grad_block();
    const unsigned parts = parallel_parts(s.batch);
    // Part 0 sums into the caller's workspace after its spread sample; parts 1.. into blocks of
    // their own on the caller's thread scratch, added at the end.
    T* partials = parts > 1 ? thread_scratch<T, conv_partials_tag>((parts - 1) * block) : nullptr;
    T* first_block = ws + s.spread_size();
    if (s.batch == 0) std::fill(first_block, first_block + block, T(0));
    parallel_for(s.batch, parts, [&](std::size_t n0, std::size_t n1, unsigned part) {
        T* d = part == 0 ? ws : thread_scratch<T, conv_part_scratch_tag>(s.part_size());
        T* target = part == 0 ? first_block : partials + (part - 1) * block;
#if KATACHI_AVX2_CODE
        if constexpr (std::is_same_v<T, float>)
            if (vector) {
                float* sums = d + s.spread_size();  // 16-lane sums, folded into the block at the end
                std::fill(sums, sums + s.sums_size(), 0.f);
                for (std::size_t n = n0; n < n1; ++n) {
                    conv_pool_spread(s, x + n * image, d);
                    conv_pool_grad_sample(s, d, dy + n * pooled, y + n * pooled, at + n * pooled, sums);
                }
                // Part 0's block lies over its sums' first elements: each is read before it is written.
                conv_pool_fold_sums(s, sums, target);
                return;
            }
#endif
        std::fill(target, target + block, T(0));
        for (std::size_t n = n0; n < n1; ++n) {
            conv_pool_spread(s, x + n * image, d);
            conv_pool_grad_sample_portable(s, d, dy + n * pooled, y + n * pooled, at + n * pooled, target);
        }
    });
    for (unsigned part = 1; part < parts; ++part)
        for (std::size_t i = 0; i < block; ++i) first_block[i] += partials[(part - 1) * block + i];
    const std::size_t taps = s.taps();
    for (std::size_t o = 0; o < s.out_channels; ++o) {
        if (dw != nullptr)
            for (std::size_t t = 0; t < taps; ++t)
                store(dw, o * taps + t, first_block[o * (taps + 1) + t], mode);
        if (db != nullptr) store(db, o, first_block[o * (taps + 1) + taps], mode);
    }
}

// The input gradient dx[batch, channels, height, width] (written, or with write::accumulate
// added): each pooled gradient that passes the relu goes back through the weight from the one
// convolution output it came from. A convolution of few taps that is not the network's first is
// rare; this runs one element at a time.
template <class T>
void conv_relu_pool_input_grad(const conv_pool_shape& s, const T* w, const T* dy, const T* y,
                               const std::uint8_t* at, T* dx, write mode) {
    const std::size_t image = s.channels * s.height * s.width, pooled = s.pooled_size();
    const std::size_t hp = s.pooled_height(), wp = s.pooled_width(), taps = s.taps(), kh = s.kernel_h,
                      kw = s.kernel_w;
    parallel_for(s.batch, parallel_parts(s.batch, s.batch * pooled * taps),
                 [&](std::size_t n0, std::size_t n1, unsigned) {
                     for (std::size_t n = n0; n < n1; ++n) {
                         T* dxn = dx + n * image;
                         if (mode == write::overwrite) std::fill(dxn, dxn + image, T(0));
                         const T* dyn = dy + n * pooled;
                         const T* yn = y + n * pooled;
                         const std::uint8_t* atn = at + n * pooled;
                         for (std::size_t o = 0; o < s.out_channels; ++o)
                             for (std::size_t r = 0; r < hp; ++r)
                                 for (std::size_t j = 0; j < wp; ++j) {
                                     const std::size_t out = (o * hp + r) * wp + j;
                                     if (!(yn[out] > T(0))) continue;
                                     const T g = dyn[out];
                                     // The convolution output's row and column, in the padded input's frame.
                                     const std::size_t h0 = 2 * r + (atn[out] >> 1),
                                                       w0 = 2 * j + (atn[out] & 1);
                                     for (std::size_t c = 0; c < s.channels; ++c)
                                         for (std::size_t i = 0; i < kh; ++i) {
                                             if (h0 + i < s.pad_h || h0 + i - s.pad_h >= s.height) continue;
                                             T* row = dxn + (c * s.height + (h0 + i - s.pad_h)) * s.width;
                                             const T* wt = w + o * taps + (c * kh + i) * kw;
                                             for (std::size_t t = 0; t < kw; ++t)
                                                 if (w0 + t >= s.pad_w && w0 + t - s.pad_w < s.width)
                                                     row[w0 + t - s.pad_w] += wt[t] * g;
                                         }
                                 }
                     }
                 });
}

}  // namespace katachi::kernels::detail
