// katachi/kernels/winograd/window_kernels.hpp: the pieces the sums from single output positions
// share (window_backward.hpp, from each pooling window's one position; sparse_backward.hpp, from
// the nonzero entries of a gradient): the padded channels-last sample, the weight laid out by
// blocks of 16 input channels, the AVX-512 register kernels of dw's nine taps and of dx's 3x3
// patch, and the set-up and fold of the parts' sums. window_backward.hpp says how they are used.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

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

// The weight as window_input_grad_sample reads it: 16 input channels at a time, each block
// [out_channels][9][16] (the last one padded by zeros), so that a block's share is contiguous.
constexpr std::size_t window_weight_size(const winograd_shape& s) {
    return 9 * s.out_channels * ((s.channels + 15) / 16 * 16);
}

// p rounded up to a 64-byte boundary (at most 15 floats on).
inline float* window_aligned(float* p) {
    return p + (64 - reinterpret_cast<std::uintptr_t>(p) % 64) % 64 / sizeof(float);
}

#if KATACHI_AVX2_CODE
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

// dx from lists of output channels, one list per output pixel that has any: list j (entries
// starts[j] .. starts[j + 1] of gs and offs) adds onto the 3x3 patch at the padded pixel
// pixel_of(j). 16 input channels at a time over all lists, so that the weight's share of them
// (wt by blocks, window_weight_size) stays in the first-level cache.
template <class PixelOf>
KATACHI_TARGET_AVX512 inline void window_input_patches(const winograd_shape& s, const float* wt,
                                                       const float* gs, const std::uint32_t* offs,
                                                       const std::uint32_t* starts, std::size_t lists,
                                                       PixelOf pixel_of, float* dxp) {
    const std::size_t ci = s.channels, co = s.out_channels, row = s.out_width + 2;
    const window_taps taps(row, ci);
    for (std::size_t c = 0; c < ci; c += 16) {
        const auto keep = static_cast<__mmask16>((1u << std::min<std::size_t>(16, ci - c)) - 1);
        const float* wb = wt + c * 9 * co;
        for (std::size_t j = 0; j < lists; ++j)
            if (starts[j] != starts[j + 1])
                window_input_patch(dxp + pixel_of(j) * ci + c, taps, wb, gs, offs, starts[j], starts[j + 1],
                                   keep);
    }
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
#endif

// One sample of `image` (planes) into the padded xp's interior, channels-last through `sample`
// (in_pixels x channels); xp's border is left as it is (zeros).
inline void window_pad_sample(const winograd_shape& s, const float* image, float* sample, float* xp) {
    const std::size_t ci = s.channels, line = s.width * ci, row = s.out_width + 2;
    winograd_transpose(image, s.in_pixels(), ci, s.in_pixels(), sample, ci,
                       static_cast<const float*>(nullptr), write::overwrite);
    for (std::size_t i = 0; i < s.height; ++i)
        std::copy(sample + i * line, sample + (i + 1) * line, xp + ((i + s.pad_h) * row + s.pad_w) * ci);
}

// The padded dxp's interior through `sample` into one sample's planes at dx, written or with `mode`
// added.
inline void window_unpad_sample(const winograd_shape& s, const float* dxp, float* sample, float* dx,
                                write mode) {
    const std::size_t ci = s.channels, line = s.width * ci, row = s.out_width + 2;
    for (std::size_t i = 0; i < s.height; ++i) {
        const float* from = dxp + ((i + s.pad_h) * row + s.pad_w) * ci;
        std::copy(from, from + line, sample + i * line);
    }
    winograd_transpose(static_cast<const float*>(sample), ci, s.in_pixels(), ci, dx, s.in_pixels(),
                       static_cast<const float*>(nullptr), mode);
}

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

// The set-up both passes share, in their scratch `ws`: the weight by blocks of 16 channels (where
// dx is wanted; from a 64-byte boundary), then the block of dw's sums [out_channels][9][channels]
// and the bias sums, cleared, and the parts' own blocks (threads' scratch) where sums are wanted.
struct window_sums {
    std::size_t block;  // dw's sums and the bias sums
    float *wt, *result, *partials;
    unsigned parts;
    bool wanted;
    window_sums(const winograd_shape& s, const float* w, float* ws, bool dx, bool sums)
        : block(9 * s.channels * s.out_channels + s.out_channels),
          wt(window_aligned(ws)),
          result(wt + window_weight_size(s)),
          partials(nullptr),
          parts(parallel_parts(s.batch)),
          wanted(sums) {
        if (dx) window_weight_by_blocks(s, w, wt);
        if (parts > 1 && sums) partials = thread_scratch<float, conv_partials_tag>((parts - 1) * block);
        std::fill(result, result + block, 0.f);
    }
    // Part's scratch: after the result block for part 0, the thread's own (part_size elements) else.
    float* area(unsigned part, std::size_t part_size) const {
        return part == 0 ? result + block : thread_scratch<float, conv_part_scratch_tag>(part_size);
    }
    // Where part sums: the result for part 0, its own block (cleared) else; null where nothing sums.
    float* sums(unsigned part) const {
        if (part == 0) return result;
        if (!wanted) return nullptr;
        float* own = partials + (part - 1) * block;
        std::fill(own, own + block, 0.f);
        return own;
    }
};

}  // namespace katachi::kernels::detail
