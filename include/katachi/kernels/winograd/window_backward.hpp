// katachi/kernels/winograd/window_backward.hpp: window_pool_backward, the gradients of a 3x3
// convolution followed by a relu and a 2x2 max pooling of stride 2, summed from each pooling
// window's one position: winograd_pool_backward's pass (pool_backward.hpp) on processors with
// AVX-512F.
//
// After the pooling, each window passes its gradient to one of its four outputs, and the relu
// passes only the windows whose maximum is positive: three quarters or more of the convolution's
// output gradient are zeros. Winograd's backward transforms and multiplies all of it (16 x O x C
// products a tile for dw, as many for dx, and the transforms around them). Summed from the windows,
//     dw[o][c][tap]            = sum over windows t of g[o][t] * x[c][position(o, t) + tap]
//     dx[c][position(o, t) + tap] += g[o][t] * w[o][c][tap]          for every window t
// take 9 x O x C products each per window that passes, and no transform: at most 9/16 of
// Winograd's products, about a quarter where the relu stops half the windows. Both work on a sample
// channels-last, padded by zeros so that no tap needs a test.
// - dw: per output channel the windows that pass are listed (their gradient and the offset of their
//   position), then 32 input channels at a time the nine taps' sums stay in 18 AVX-512 registers
//   over the whole list: two loads of the sample a tap, nothing stored.
// - dx: per window the output channels that pass are listed by their position in it, then 16
//   input channels at a time each position's 3x3 patch is summed over its list in 9 registers and
//   added once. The weight is laid out by blocks of 16 input channels, so that the block's share
//   (O x 9 x 16 floats) is read contiguously and mostly from the first-level cache. (Adding each
//   window's product onto the patch instead stored 18 vectors a window and ran 2.5 times slower.)
//
// The sums are the exact ones in another order: dw came within 3e-6 of a float64 sum on the
// LeNet's second layer, where Winograd's transforms round to 2e-5, and dx within 1e-5
// (test_conv_relu_pool). Every buffer a vector load reads starts on a 64-byte boundary: unaligned,
// each load split a cache line and dw's loop ran 50% slower.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/conv_scratch.hpp"
#include "katachi/kernels/simd.hpp"
#include "katachi/kernels/winograd/shape.hpp"
#include "katachi/kernels/winograd/transpose.hpp"
#include "katachi/parallel.hpp"

namespace katachi::kernels::detail {

// A sample channels-last and padded: (out_height + 2) x (out_width + 2) pixels of `channels` floats,
// the image at (pad_h, pad_w) and zeros around it (the input, and the input gradient).
// Rounded up to 16 floats, so that the second one starts on a 64-byte boundary too.
constexpr std::size_t window_padded_size(const winograd_shape& s) {
    return ((s.out_height + 2) * (s.out_width + 2) * s.channels + 15) / 16 * 16;
}

// The lists of window_weight_grad_sample and window_input_grad_sample (one at a time): at most a
// gradient and an offset per window and output channel, where each window's lists start, and one
// window's lists as they are made.
constexpr std::size_t window_list_size(const winograd_shape& s) {
    return 2 * s.out_channels * s.tiles() + 4 * s.tiles() + 1 + 8 * s.out_channels;
}

// One part's scratch: the padded input and input gradient (from a 64-byte boundary, so that no
// vector load splits a cache line: 16 floats to find it), one sample channels-last, the gradient
// each window passes [out_channels][tiles], and the lists.
constexpr std::size_t window_part_size(const winograd_shape& s) {
    return 16 + 2 * window_padded_size(s) + s.in_pixels() * s.channels + s.out_channels * s.tiles() +
           window_list_size(s);
}

// The weight as window_input_grad_sample reads it: 16 input channels at a time, each block
// [out_channels][9][16] (the last one padded by zeros), so that a block's share is contiguous.
constexpr std::size_t window_weight_size(const winograd_shape& s) {
    return 9 * s.out_channels * ((s.channels + 15) / 16 * 16);
}

// The scratch window_pool_backward takes: the weight by blocks of channels (from a 64-byte
// boundary: 16 floats to find it), the block of dw's sums [out_channels][9][channels] and the bias
// sums, then part 0's scratch.
constexpr std::size_t window_workspace_size(const winograd_shape& s) {
    return 16 + window_weight_size(s) + 9 * s.channels * s.out_channels + s.out_channels +
           window_part_size(s);
}

// p rounded up to a 64-byte boundary (at most 15 floats on).
inline float* window_aligned(float* p) {
    return p + (64 - reinterpret_cast<std::uintptr_t>(p) % 64) % 64 / sizeof(float);
}

#if KATACHI_AVX2_CODE
// g[o][t] = dy[o][t] where the pooled value y[o][t] is positive (relu's backward; zero where it is
// not, NaN included), for one sample's [out_channels][tiles]; each channel's sum added onto sums[o]
// (sums may be null).
KATACHI_TARGET_AVX2 inline void window_passed_gradient(const winograd_shape& s, const float* dy,
                                                       const float* y, float* g, float* sums) {
    const std::size_t tiles = s.tiles();
    const __m256 zero = _mm256_setzero_ps();
    for (std::size_t o = 0; o < s.out_channels; ++o) {
        const float *dyo = dy + o * tiles, *yo = y + o * tiles;
        float* go = g + o * tiles;
        __m256 acc = zero;
        std::size_t t = 0;
        for (; t + 8 <= tiles; t += 8) {
            const __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(yo + t), zero, _CMP_GT_OQ);
            const __m256 v = _mm256_and_ps(keep, _mm256_loadu_ps(dyo + t));
            _mm256_storeu_ps(go + t, v);
            acc = _mm256_add_ps(acc, v);
        }
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, acc);
        float total = 0.f;
        for (; t < tiles; ++t) {
            go[t] = yo[t] > 0.f ? dyo[t] : 0.f;
            total += go[t];
        }
        for (float l : lanes) total += l;
        if (sums != nullptr) sums[o] += total;
    }
}

// The nine taps' offsets in a padded sample of `row` pixels a row, `channels` floats a pixel.
struct window_taps {
    std::size_t t[9];
    window_taps(std::size_t row, std::size_t channels) {
        for (std::size_t k = 0; k < 9; ++k) t[k] = ((k / 3) * row + k % 3) * channels;
    }
};

// a (+ b) += g * q[0, 16) (, q[16, 32)), the loads masked. Written out tap by tap below (named
// registers, not an array, which g++ kept a copy of on the stack, storing it every step).
template <int V>
[[gnu::always_inline]] KATACHI_TARGET_AVX512 inline void window_fma(__m512& a, __m512& b, __m512 g,
                                                                    const float* q, __mmask16 k0,
                                                                    __mmask16 k1) {
    a = _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(k0, q), a);
    if constexpr (V == 2) b = _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(k1, q + 16), b);
}

// q[0, 16) (, q[16, 32)) += a (, b), masked.
template <int V>
[[gnu::always_inline]] KATACHI_TARGET_AVX512 inline void window_add(float* q, __m512 a, __m512 b,
                                                                    __mmask16 k0, __mmask16 k1) {
    _mm512_mask_storeu_ps(q, k0, _mm512_add_ps(_mm512_maskz_loadu_ps(k0, q), a));
    if constexpr (V == 2)
        _mm512_mask_storeu_ps(q + 16, k1, _mm512_add_ps(_mm512_maskz_loadu_ps(k1, q + 16), b));
}

// dw's nine taps' sums over the listed windows for the V * 16 input channels from c (the last
// vector masked to `last`), added onto dwt[tap * channels + c ...].
template <int V>
KATACHI_TARGET_AVX512 inline void window_weight_block(const float* xp, std::size_t channels, std::size_t row,
                                                      const float* gs, const std::uint32_t* offs,
                                                      std::size_t n, std::size_t c, __mmask16 last,
                                                      float* dwt) {
    const __mmask16 k0 = V == 1 ? last : __mmask16(0xFFFF), k1 = last;
    const window_taps at(row, channels);
    const std::size_t t1 = at.t[1], t2 = at.t[2], t3 = at.t[3], t4 = at.t[4], t5 = at.t[5], t6 = at.t[6],
                      t7 = at.t[7], t8 = at.t[8];
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0;
    __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0, b8 = a0;
    for (std::size_t i = 0; i < n; ++i) {
        const __m512 g = _mm512_set1_ps(gs[i]);
        const float* p = xp + offs[i] + c;
        window_fma<V>(a0, b0, g, p, k0, k1);
        window_fma<V>(a1, b1, g, p + t1, k0, k1);
        window_fma<V>(a2, b2, g, p + t2, k0, k1);
        window_fma<V>(a3, b3, g, p + t3, k0, k1);
        window_fma<V>(a4, b4, g, p + t4, k0, k1);
        window_fma<V>(a5, b5, g, p + t5, k0, k1);
        window_fma<V>(a6, b6, g, p + t6, k0, k1);
        window_fma<V>(a7, b7, g, p + t7, k0, k1);
        window_fma<V>(a8, b8, g, p + t8, k0, k1);
    }
    float* d = dwt + c;
    window_add<V>(d, a0, b0, k0, k1);
    window_add<V>(d + channels, a1, b1, k0, k1);
    window_add<V>(d + 2 * channels, a2, b2, k0, k1);
    window_add<V>(d + 3 * channels, a3, b3, k0, k1);
    window_add<V>(d + 4 * channels, a4, b4, k0, k1);
    window_add<V>(d + 5 * channels, a5, b5, k0, k1);
    window_add<V>(d + 6 * channels, a6, b6, k0, k1);
    window_add<V>(d + 7 * channels, a7, b7, k0, k1);
    window_add<V>(d + 8 * channels, a8, b8, k0, k1);
}

// dx's 3x3 patch for one position of one window, for one block of 16 input channels (masked to
// `keep` where the patch is written): the sum over the listed output channels of their gradient
// times their nine taps (the block's weight wb at offs[e], [9][16]), added onto the patch at p
// (taps at `at`).
KATACHI_TARGET_AVX512 inline void window_input_patch(float* p, const window_taps& at, const float* wb,
                                                     const float* gs, const std::uint32_t* offs,
                                                     std::size_t first, std::size_t last, __mmask16 keep) {
    __m512 h0 = _mm512_setzero_ps(), h1 = h0, h2 = h0, h3 = h0, h4 = h0, h5 = h0, h6 = h0, h7 = h0, h8 = h0;
    for (std::size_t e = first; e < last; ++e) {
        const __m512 g = _mm512_set1_ps(gs[e]);
        const float* w = wb + offs[e];
        h0 = _mm512_fmadd_ps(g, _mm512_load_ps(w), h0);
        h1 = _mm512_fmadd_ps(g, _mm512_load_ps(w + 16), h1);
        h2 = _mm512_fmadd_ps(g, _mm512_load_ps(w + 32), h2);
        h3 = _mm512_fmadd_ps(g, _mm512_load_ps(w + 48), h3);
        h4 = _mm512_fmadd_ps(g, _mm512_load_ps(w + 64), h4);
        h5 = _mm512_fmadd_ps(g, _mm512_load_ps(w + 80), h5);
        h6 = _mm512_fmadd_ps(g, _mm512_load_ps(w + 96), h6);
        h7 = _mm512_fmadd_ps(g, _mm512_load_ps(w + 112), h7);
        h8 = _mm512_fmadd_ps(g, _mm512_load_ps(w + 128), h8);
    }
    const __m512 none = _mm512_setzero_ps();
    window_add<1>(p, h0, none, keep, 0);
    window_add<1>(p + at.t[1], h1, none, keep, 0);
    window_add<1>(p + at.t[2], h2, none, keep, 0);
    window_add<1>(p + at.t[3], h3, none, keep, 0);
    window_add<1>(p + at.t[4], h4, none, keep, 0);
    window_add<1>(p + at.t[5], h5, none, keep, 0);
    window_add<1>(p + at.t[6], h6, none, keep, 0);
    window_add<1>(p + at.t[7], h7, none, keep, 0);
    window_add<1>(p + at.t[8], h8, none, keep, 0);
}

// window_weight_block over all input channels, 32 at a time, the last block masked.
KATACHI_TARGET_AVX512 inline void window_weight_blocks(const float* xp, std::size_t channels, std::size_t row,
                                                       const float* gs, const std::uint32_t* offs,
                                                       std::size_t n, float* dwt) {
    std::size_t c = 0;
    for (; c + 32 <= channels; c += 32)
        window_weight_block<2>(xp, channels, row, gs, offs, n, c, 0xFFFF, dwt);
    if (c == channels) return;
    const std::size_t rest = channels - c;
    const auto last = static_cast<__mmask16>((1u << (rest > 16 ? rest - 16 : rest)) - 1);
    if (rest > 16)
        window_weight_block<2>(xp, channels, row, gs, offs, n, c, last, dwt);
    else
        window_weight_block<1>(xp, channels, row, gs, offs, n, c, last, dwt);
}

// One sample's dw, added onto dwt [out_channels][9][channels] from the padded input xp: g
// [out_channels][tiles] is the gradient each window passes and `at` its position in the window
// (0..3, row-major; only the low two bits are read). `list` holds window_list_size(s) elements.
KATACHI_TARGET_AVX512 inline void window_weight_grad_sample(const winograd_shape& s, const float* xp,
                                                            const float* g, const std::uint8_t* at,
                                                            float* dwt, float* list) {
    const std::size_t ci = s.channels, tiles = s.tiles(), tw = s.tile_cols(), th = s.tile_rows();
    const std::size_t row = s.out_width + 2;  // the padded sample's pixels a row
    float* gs = list;
    auto* offs = reinterpret_cast<std::uint32_t*>(list + tiles);
    static_assert(sizeof(std::uint32_t) == sizeof(float));
    for (std::size_t o = 0; o < s.out_channels; ++o) {
        const float* go = g + o * tiles;
        const std::uint8_t* ao = at + o * tiles;
        std::size_t n = 0;  // the windows that pass, listed without a branch
        for (std::size_t ti = 0; ti < th; ++ti)
            for (std::size_t tj = 0; tj < tw; ++tj) {
                const std::size_t t = ti * tw + tj;
                const unsigned k = ao[t] & 3u;
                gs[n] = go[t];
                offs[n] = static_cast<std::uint32_t>(((2 * ti + (k >> 1)) * row + 2 * tj + (k & 1)) * ci);
                n += go[t] != 0.f;
            }
        if (n != 0) window_weight_blocks(xp, ci, row, gs, offs, n, dwt + o * 9 * ci);
    }
}

// One sample's dx, added onto the padded dxp from wt (window_weight_size: the weight by blocks of
// 16 input channels, 64-byte aligned), g and `at` as above. Each window's passing output channels are listed
// by their position in it (a gradient and wt's offset each), so that a position's 3x3 patch is summed over
// its list in registers and added once; then 16 input channels at a time over all windows, so that wt's share
// of them stays in the first-level cache. `list` holds window_list_size(s) elements.
KATACHI_TARGET_AVX512 inline void window_input_grad_sample(const winograd_shape& s, const float* wt,
                                                           const float* g, const std::uint8_t* at, float* dxp,
                                                           float* list) {
    const std::size_t ci = s.channels, co = s.out_channels, tiles = s.tiles(), tw = s.tile_cols();
    const std::size_t row = s.out_width + 2;
    float* gs = list;  // [co * tiles] entries, window by window, position by position
    auto* offs = reinterpret_cast<std::uint32_t*>(gs + co * tiles);
    auto* starts = offs + co * tiles;                                  // [4 * tiles + 1]
    float* part_g = reinterpret_cast<float*>(starts + 4 * tiles + 1);  // [4][co]: one window's lists
    auto* part_o = reinterpret_cast<std::uint32_t*>(part_g + 4 * co);
    std::size_t n = 0;
    for (std::size_t t = 0; t < tiles; ++t) {
        std::size_t count[4] = {0, 0, 0, 0};
        for (std::size_t o = 0; o < co; ++o) {  // without a branch: each position has room for co
            const float v = g[o * tiles + t];
            const unsigned k = at[o * tiles + t] & 3u;
            part_g[k * co + count[k]] = v;
            part_o[k * co + count[k]] = static_cast<std::uint32_t>(o * 9 * 16);
            count[k] += v != 0.f;
        }
        for (std::size_t k = 0; k < 4; ++k) {
            starts[4 * t + k] = static_cast<std::uint32_t>(n);
            std::copy(part_g + k * co, part_g + k * co + count[k], gs + n);
            std::copy(part_o + k * co, part_o + k * co + count[k], offs + n);
            n += count[k];
        }
    }
    starts[4 * tiles] = static_cast<std::uint32_t>(n);
    const window_taps taps(row, ci);
    for (std::size_t c = 0; c < ci; c += 16) {
        const std::size_t rest = std::min<std::size_t>(16, ci - c);
        const auto keep = static_cast<__mmask16>((1u << rest) - 1);
        const float* wb = wt + c * 9 * co;
        for (std::size_t t = 0; t < tiles; ++t) {
            float* base = dxp + (2 * (t / tw) * row + 2 * (t % tw)) * ci + c;
            for (std::size_t k = 0; k < 4; ++k)
                if (starts[4 * t + k] != starts[4 * t + k + 1])
                    window_input_patch(base + ((k >> 1) * row + (k & 1)) * ci, taps, wb, gs, offs,
                                       starts[4 * t + k], starts[4 * t + k + 1], keep);
        }
    }
}
#endif

// w [out_channels][channels][3 x 3] by blocks of 16 input channels into wt (window_weight_size),
// the last block padded by zeros.
inline void window_weight_by_blocks(const winograd_shape& s, const float* w, float* wt) {
    const std::size_t ci = s.channels, co = s.out_channels;
    std::fill(wt, wt + window_weight_size(s), 0.f);
    for (std::size_t o = 0; o < co; ++o)
        for (std::size_t c = 0; c < ci; ++c)
            for (std::size_t tap = 0; tap < 9; ++tap)
                wt[((c / 16 * co + o) * 9 + tap) * 16 + c % 16] = w[(o * ci + c) * 9 + tap];
}

// The parts' sums folded into `result` (dw's [out_channels][9][channels], then the bias sums; from
// the bias sums on where dw is not wanted), then dw (may be null) and db (may be null) written or
// with `mode` added.
inline void window_store_grads(const winograd_shape& s, float* result, const float* partials, unsigned parts,
                               float* dw, float* db, write mode) {
    const std::size_t ci = s.channels, co = s.out_channels, taps = 9 * co * ci, block = taps + co;
    const std::size_t from = dw != nullptr ? 0 : taps;
    for (unsigned part = 1; part < parts && partials != nullptr; ++part) {
        const float* other = partials + (part - 1) * block;
        for (std::size_t i = from; i < block; ++i) result[i] += other[i];
    }
    if (dw != nullptr)
        for (std::size_t o = 0; o < co; ++o)
            for (std::size_t c = 0; c < ci; ++c)
                for (std::size_t tap = 0; tap < 9; ++tap)
                    store(dw + (o * ci + c) * 9, tap, result[(o * 9 + tap) * ci + c], mode);
    if (db != nullptr)
        for (std::size_t o = 0; o < co; ++o) store(db, o, result[taps + o], mode);
}

// The gradients of out = pool(relu(conv(image, w) + bias)) (shape s, 3x3, an even output) from the
// pooled gradient dy, the pooled output y and the window positions `at` (all [batch, out_channels,
// tiles]), as winograd_pool_backward takes them: dw and db (each may be null) written or with
// dparams_mode added, dx (may be null) likewise with dx_mode. Runs where avx512_available(), so T
// is float; `ws` holds window_workspace_size(s) elements.
template <class T>
void window_pool_backward(const winograd_shape& s, const T* image, const T* w, const T* dy, const T* y,
                          const std::uint8_t* at, T* dw, T* db, write dparams_mode, T* dx, write dx_mode,
                          T* ws) {
    static_assert(std::is_same_v<T, float>, "window_pool_backward: the pass is float's");
#if KATACHI_AVX2_CODE
    const std::size_t ci = s.channels, co = s.out_channels, tiles = s.tiles(), taps = 9 * co * ci;
    const std::size_t block = taps + co, padded = window_padded_size(s), row = s.out_width + 2;
    const bool sums_wanted = dw != nullptr || db != nullptr;
    if (!sums_wanted && dx == nullptr) return;
    float* wt = window_aligned(ws);  // w by blocks of 16 channels [c / 16][o][tap][c % 16]
    float* result = wt + window_weight_size(s);
    if (dx != nullptr) window_weight_by_blocks(s, w, wt);
    const unsigned parts = parallel_parts(s.batch);
    float* partials =
        parts > 1 && sums_wanted ? thread_scratch<float, conv_partials_tag>((parts - 1) * block) : nullptr;
    std::fill(result, result + block, 0.f);
    parallel_for(s.batch, parts, [&](std::size_t n0, std::size_t n1, unsigned part) {
        float* area =
            part == 0 ? result + block : thread_scratch<float, conv_part_scratch_tag>(window_part_size(s));
        float* xp = window_aligned(area);
        float* dxp = xp + padded;
        float* sample = dxp + padded;  // one sample channels-last, unpadded
        float* g = sample + s.in_pixels() * ci;
        float* list = g + co * tiles;
        float* acc = part == 0 ? result : sums_wanted ? partials + (part - 1) * block : nullptr;
        if (part != 0 && acc != nullptr) std::fill(acc, acc + block, 0.f);
        std::fill(xp, xp + padded, 0.f);  // only the image is written below: the border stays zero
        const auto interior = [&](float* padded_sample, std::size_t i) {
            return padded_sample + ((i + s.pad_h) * row + s.pad_w) * ci;
        };
        for (std::size_t n = n0; n < n1; ++n) {
            const std::size_t pooled = n * co * tiles, line = s.width * ci;
            window_passed_gradient(s, dy + pooled, y + pooled, g, acc != nullptr ? acc + taps : nullptr);
            if (dw != nullptr) {
                winograd_transpose(image + n * s.image_size(), s.in_pixels(), ci, s.in_pixels(), sample, ci,
                                   static_cast<const float*>(nullptr), write::overwrite);
                for (std::size_t i = 0; i < s.height; ++i)
                    std::copy(sample + i * line, sample + (i + 1) * line, interior(xp, i));
            }
            if (dx != nullptr) std::fill(dxp, dxp + padded, 0.f);
            if (dw != nullptr) window_weight_grad_sample(s, xp, g, at + pooled, acc, list);
            if (dx != nullptr) window_input_grad_sample(s, wt, g, at + pooled, dxp, list);
            if (dx != nullptr) {
                for (std::size_t i = 0; i < s.height; ++i)
                    std::copy(interior(dxp, i), interior(dxp, i) + line, sample + i * line);
                winograd_transpose(static_cast<const float*>(sample), ci, s.in_pixels(), ci,
                                   dx + n * s.image_size(), s.in_pixels(), static_cast<const float*>(nullptr),
                                   dx_mode);
            }
        }
    });
    window_store_grads(s, result, partials, parts, dw, db, dparams_mode);
#else
    (void)s, (void)image, (void)w, (void)dy, (void)y, (void)at, (void)dw, (void)db, (void)dparams_mode,
        (void)dx, (void)dx_mode, (void)ws;
#endif
}

}  // namespace katachi::kernels::detail
