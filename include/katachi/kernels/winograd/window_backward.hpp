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
// take 9 x O x C products each per window that passes, and no transform: a third of the products or
// less. Per sample and output channel the windows that pass are listed first (their gradient and
// the offset of their position), then 32 input channels at a time: dw's nine taps' sums stay in 18
// AVX-512 registers over the whole list (two loads of the sample a tap, nothing stored); dx's nine
// taps of w[o] stay in 18 registers and each window adds them, scaled, onto the input gradient's
// 3x3 patch. Both work on a sample channels-last, padded by zeros so that no tap needs a test.
//
// The sums are the exact ones in another order: dw came within 3e-6 of a float64 sum on the LeNet's
// second layer, where Winograd's transforms round to 2e-5 (test_conv_relu_pool).
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

// One part's scratch: the padded input and input gradient (from a 64-byte boundary, so that no
// vector load splits a cache line: 16 floats to find it), one sample channels-last, the gradient
// each window passes [out_channels][tiles], and the list of windows (a gradient and an offset each).
constexpr std::size_t window_part_size(const winograd_shape& s) {
    return 16 + 2 * window_padded_size(s) + s.in_pixels() * s.channels + s.out_channels * s.tiles() +
           2 * s.tiles();
}

// The scratch window_pool_backward takes: w with its taps first [out_channels][9][channels], the
// block of dw's sums (the same layout) and the bias sums, then part 0's scratch.
constexpr std::size_t window_workspace_size(const winograd_shape& s) {
    return 2 * 9 * s.channels * s.out_channels + s.out_channels + window_part_size(s);
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

// q[0, 16) (, q[16, 32)) += g * a (, g * b), masked.
template <int V>
[[gnu::always_inline]] KATACHI_TARGET_AVX512 inline void window_axpy(float* q, __m512 g, __m512 a, __m512 b,
                                                                     __mmask16 k0, __mmask16 k1) {
    _mm512_mask_storeu_ps(q, k0, _mm512_fmadd_ps(g, a, _mm512_maskz_loadu_ps(k0, q)));
    if constexpr (V == 2)
        _mm512_mask_storeu_ps(q + 16, k1, _mm512_fmadd_ps(g, b, _mm512_maskz_loadu_ps(k1, q + 16)));
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

// dx's part for the same channels: each listed window adds its gradient times w[o]'s nine taps
// (wo [9][channels]) onto its 3x3 patch of dxp.
template <int V>
KATACHI_TARGET_AVX512 inline void window_input_block(float* dxp, std::size_t channels, std::size_t row,
                                                     const float* gs, const std::uint32_t* offs,
                                                     std::size_t n, std::size_t c, __mmask16 last,
                                                     const float* wo) {
    const __mmask16 k0 = V == 1 ? last : __mmask16(0xFFFF), k1 = V == 2 ? last : __mmask16(0);
    const window_taps at(row, channels);
    const std::size_t t1 = at.t[1], t2 = at.t[2], t3 = at.t[3], t4 = at.t[4], t5 = at.t[5], t6 = at.t[6],
                      t7 = at.t[7], t8 = at.t[8];
    const float* w = wo + c;
    const std::size_t ch = channels;
    const __m512 a0 = _mm512_maskz_loadu_ps(k0, w), b0 = _mm512_maskz_loadu_ps(k1, w + 16);
    const __m512 a1 = _mm512_maskz_loadu_ps(k0, w + ch), b1 = _mm512_maskz_loadu_ps(k1, w + ch + 16);
    const __m512 a2 = _mm512_maskz_loadu_ps(k0, w + 2 * ch), b2 = _mm512_maskz_loadu_ps(k1, w + 2 * ch + 16);
    const __m512 a3 = _mm512_maskz_loadu_ps(k0, w + 3 * ch), b3 = _mm512_maskz_loadu_ps(k1, w + 3 * ch + 16);
    const __m512 a4 = _mm512_maskz_loadu_ps(k0, w + 4 * ch), b4 = _mm512_maskz_loadu_ps(k1, w + 4 * ch + 16);
    const __m512 a5 = _mm512_maskz_loadu_ps(k0, w + 5 * ch), b5 = _mm512_maskz_loadu_ps(k1, w + 5 * ch + 16);
    const __m512 a6 = _mm512_maskz_loadu_ps(k0, w + 6 * ch), b6 = _mm512_maskz_loadu_ps(k1, w + 6 * ch + 16);
    const __m512 a7 = _mm512_maskz_loadu_ps(k0, w + 7 * ch), b7 = _mm512_maskz_loadu_ps(k1, w + 7 * ch + 16);
    const __m512 a8 = _mm512_maskz_loadu_ps(k0, w + 8 * ch), b8 = _mm512_maskz_loadu_ps(k1, w + 8 * ch + 16);
    for (std::size_t i = 0; i < n; ++i) {
        const __m512 g = _mm512_set1_ps(gs[i]);
        float* p = dxp + offs[i] + c;
        window_axpy<V>(p, g, a0, b0, k0, k1);
        window_axpy<V>(p + t1, g, a1, b1, k0, k1);
        window_axpy<V>(p + t2, g, a2, b2, k0, k1);
        window_axpy<V>(p + t3, g, a3, b3, k0, k1);
        window_axpy<V>(p + t4, g, a4, b4, k0, k1);
        window_axpy<V>(p + t5, g, a5, b5, k0, k1);
        window_axpy<V>(p + t6, g, a6, b6, k0, k1);
        window_axpy<V>(p + t7, g, a7, b7, k0, k1);
        window_axpy<V>(p + t8, g, a8, b8, k0, k1);
    }
}

// One sample: dw's sums added onto dwt [out_channels][9][channels] (when not null) from the padded
// input xp, and dx's added onto the padded dxp (when not null) from wt [out_channels][9][channels];
// g [out_channels][tiles] is the gradient each window passes and `at` its position in the window
// (0..3, row-major; only the low two bits are read). `list` holds 2 * tiles elements of scratch.
KATACHI_TARGET_AVX512 inline void window_backward_sample(const winograd_shape& s, const float* xp,
                                                         const float* wt, const float* g,
                                                         const std::uint8_t* at, float* dwt, float* dxp,
                                                         float* list) {
    const std::size_t ci = s.channels, tiles = s.tiles(), tw = s.tile_cols(), th = s.tile_rows();
    const std::size_t row = s.out_width + 2;  // the padded sample's pixels a row
    float* gs = list;
    auto* offs = reinterpret_cast<std::uint32_t*>(list + tiles);
    static_assert(sizeof(std::uint32_t) == sizeof(float));
    // The channels in blocks of 32 (two vectors), the last block masked.
    const auto blocks = [&](auto&& block) {
        std::size_t c = 0;
        for (; c + 32 <= ci; c += 32) block(std::integral_constant<int, 2>{}, c, __mmask16(0xFFFF));
        if (c == ci) return;
        const std::size_t rest = ci - c;
        const auto last = static_cast<__mmask16>((1u << (rest > 16 ? rest - 16 : rest)) - 1);
        if (rest > 16)
            block(std::integral_constant<int, 2>{}, c, last);
        else
            block(std::integral_constant<int, 1>{}, c, last);
    };
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
        if (n == 0) continue;
        if (dwt != nullptr)
            blocks([&](auto v, std::size_t c, __mmask16 last) {
                window_weight_block<decltype(v)::value>(xp, ci, row, gs, offs, n, c, last, dwt + o * 9 * ci);
            });
        if (dxp != nullptr)
            blocks([&](auto v, std::size_t c, __mmask16 last) {
                window_input_block<decltype(v)::value>(dxp, ci, row, gs, offs, n, c, last, wt + o * 9 * ci);
            });
    }
}
#endif

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
    float* wt = ws;  // w [o][tap][c]
    float* result = wt + taps;
    if (dx != nullptr)
        for (std::size_t o = 0; o < co; ++o)
            for (std::size_t c = 0; c < ci; ++c)
                for (std::size_t tap = 0; tap < 9; ++tap)
                    wt[(o * 9 + tap) * ci + c] = w[(o * ci + c) * 9 + tap];
    const unsigned parts = parallel_parts(s.batch);
    float* partials =
        parts > 1 && sums_wanted ? thread_scratch<float, conv_partials_tag>((parts - 1) * block) : nullptr;
    std::fill(result, result + block, 0.f);
    parallel_for(s.batch, parts, [&](std::size_t n0, std::size_t n1, unsigned part) {
        float* area =
            part == 0 ? result + block : thread_scratch<float, conv_part_scratch_tag>(window_part_size(s));
        float* xp = area + (64 - reinterpret_cast<std::uintptr_t>(area) % 64) % 64 / sizeof(float);
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
            window_backward_sample(s, xp, wt, g, at + pooled, dw != nullptr ? acc : nullptr,
                                   dx != nullptr ? dxp : nullptr, list);
            if (dx != nullptr) {
                for (std::size_t i = 0; i < s.height; ++i)
                    std::copy(interior(dxp, i), interior(dxp, i) + line, sample + i * line);
                winograd_transpose(static_cast<const float*>(sample), ci, s.in_pixels(), ci,
                                   dx + n * s.image_size(), s.in_pixels(), static_cast<const float*>(nullptr),
                                   dx_mode);
            }
        }
    });
    const std::size_t from = dw != nullptr ? 0 : taps;
    for (unsigned part = 1; part < parts && sums_wanted; ++part) {
        const float* other = partials + (part - 1) * block;
        for (std::size_t i = from; i < block; ++i) result[i] += other[i];
    }
    if (dw != nullptr)
        for (std::size_t o = 0; o < co; ++o)
            for (std::size_t c = 0; c < ci; ++c)
                for (std::size_t tap = 0; tap < 9; ++tap)
                    store(dw + (o * ci + c) * 9, tap, result[(o * 9 + tap) * ci + c], dparams_mode);
    if (db != nullptr)
        for (std::size_t o = 0; o < co; ++o) store(db, o, result[taps + o], dparams_mode);
#else
    (void)s, (void)image, (void)w, (void)dy, (void)y, (void)at, (void)dw, (void)db, (void)dparams_mode,
        (void)dx, (void)dx_mode, (void)ws;
#endif
}

}  // namespace katachi::kernels::detail
