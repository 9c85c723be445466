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
#include "katachi/kernels/winograd/window_kernels.hpp"
#include "katachi/parallel.hpp"

namespace katachi::kernels::detail {

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

// The scratch window_pool_backward takes: the weight by blocks of channels (from a 64-byte
// boundary: 16 floats to find it), the block of dw's sums [out_channels][9][channels] and the bias
// sums, then part 0's scratch.
constexpr std::size_t window_workspace_size(const winograd_shape& s) {
    return 16 + window_weight_size(s) + 9 * s.channels * s.out_channels + s.out_channels +
           window_part_size(s);
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
    const std::size_t co = s.out_channels, tiles = s.tiles(), tw = s.tile_cols();
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
    // List 4 t + k: position k of window t.
    window_input_patches(
        s, wt, gs, offs, starts, 4 * tiles,
        [&](std::size_t j) {
            const std::size_t t = j / 4, k = j % 4;
            return (2 * (t / tw) + (k >> 1)) * row + 2 * (t % tw) + (k & 1);
        },
        dxp);
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
    const std::size_t padded = window_padded_size(s);
    const bool sums_wanted = dw != nullptr || db != nullptr;
    if (!sums_wanted && dx == nullptr) return;
    const window_sums sums(s, w, ws, dx != nullptr, sums_wanted);
    parallel_for(s.batch, sums.parts, [&](std::size_t n0, std::size_t n1, unsigned part) {
        float* xp = window_aligned(sums.area(part, window_part_size(s)));
        float* dxp = xp + padded;
        float* sample = dxp + padded;  // one sample channels-last, unpadded
        float* g = sample + s.in_pixels() * ci;
        float* list = g + co * tiles;
        float* acc = sums.sums(part);
        std::fill(xp, xp + padded, 0.f);  // only the image is written below: the border stays zero
        for (std::size_t n = n0; n < n1; ++n) {
            const std::size_t pooled = n * co * tiles;
            window_passed_gradient(s, dy + pooled, y + pooled, g, acc != nullptr ? acc + taps : nullptr);
            if (dw != nullptr) {
                window_pad_sample(s, image + n * s.image_size(), sample, xp);
                window_weight_grad_sample(s, xp, g, at + pooled, acc, list);
            }
            if (dx != nullptr) {
                std::fill(dxp, dxp + padded, 0.f);
                window_input_grad_sample(s, sums.wt, g, at + pooled, dxp, list);
                window_unpad_sample(s, dxp, sample, dx + n * s.image_size(), dx_mode);
            }
        }
    });
    window_store_grads(s, sums.result, sums.partials, sums.parts, dw, db, dparams_mode);
#else
    (void)s, (void)image, (void)w, (void)dy, (void)y, (void)at, (void)dw, (void)db, (void)dparams_mode,
        (void)dx, (void)dx_mode, (void)ws;
#endif
}

}  // namespace katachi::kernels::detail
