// katachi/kernels/winograd/window_grad.hpp: the weight gradient of a 3x3 convolution followed by
// a relu and a 2x2 max pooling of stride 2, summed from each pooling window's one position
// (winograd_pool_backward's, pool_backward.hpp, on processors with AVX-512F).
//
// After the pooling, each window passes its gradient to one of its four outputs, and the relu
// passes only the windows whose maximum is positive: at least three quarters of the convolution's
// output gradient are zeros. Winograd's weight gradient transforms and multiplies all of it (dU =
// dM^T V over every tile, 16 x O x C products a tile); summed straight from the windows,
//     dw[o][c][tap] = sum over windows t of g[o][t] * x[c][position(o, t) + tap]
// takes 9 x O x C products a window whose gradient passes, and no transform: a third of the
// products or less. For one output channel the windows that pass are listed first (their gradient
// and the offset of their position in the sample), then 32 input channels at a time the nine taps'
// sums stay in 18 AVX-512 registers over the whole list, each step two loads of the sample
// (channels-last, padded by zeros) per tap and nothing stored.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/simd.hpp"
#include "katachi/kernels/winograd/shape.hpp"

namespace katachi::kernels::detail {

// The sample padded for window_weight_grad_sample: (out_height + 2) x (out_width + 2) pixels of
// `channels` floats, the image at (pad_h, pad_w) and zeros around it.
constexpr std::size_t window_padded_size(const winograd_shape& s) {
    return (s.out_height + 2) * (s.out_width + 2) * s.channels;
}

// The list window_weight_grad_sample makes per output channel: a gradient and an offset a window.
constexpr std::size_t window_list_size(const winograd_shape& s) {
    return 2 * s.tiles();
}

#if KATACHI_AVX2_CODE
// The nine taps' sums over the listed windows for the V * 16 input channels from c (the last vector
// masked to `last`), added onto dwt[tap * channels + c ...].
template <int V>
KATACHI_TARGET_AVX512 inline void window_grad_block(const float* xp, std::size_t channels, std::size_t row,
                                                    const float* gs, const std::uint32_t* offs, std::size_t n,
                                                    std::size_t c, __mmask16 last, float* dwt) {
    const __mmask16 keep[2] = {V == 1 ? last : __mmask16(0xFFFF), last};
    __m512 acc[9][V];
    for (auto& tap : acc)
        for (auto& a : tap) a = _mm512_setzero_ps();
    for (std::size_t i = 0; i < n; ++i) {
        const __m512 g = _mm512_set1_ps(gs[i]);
        const float* p = xp + offs[i] + c;
        for (std::size_t dh = 0; dh < 3; ++dh)
            for (std::size_t dw = 0; dw < 3; ++dw) {
                const float* q = p + (dh * row + dw) * channels;
                for (int v = 0; v < V; ++v)
                    acc[dh * 3 + dw][v] =
                        _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(keep[v], q + 16 * v), acc[dh * 3 + dw][v]);
            }
    }
    for (std::size_t tap = 0; tap < 9; ++tap)
        for (int v = 0; v < V; ++v) {
            float* d = dwt + tap * channels + c + 16 * v;
            _mm512_mask_storeu_ps(d, keep[v], _mm512_add_ps(_mm512_maskz_loadu_ps(keep[v], d), acc[tap][v]));
        }
}

// Adds one sample's weight gradient onto dwt [out_channels][9][channels] (tap-major per output
// channel): xp is the sample channels-last, padded as window_padded_size says; g [out_channels]
// [tiles] the gradient each window passes (zero where the relu stops it) and `at` its position in
// the window (0..3, row-major; only the low two bits are read). `list` holds window_list_size(s)
// elements of scratch.
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
        float* d = dwt + o * 9 * ci;
        std::size_t c = 0;
        for (; c + 32 <= ci; c += 32) window_grad_block<2>(xp, ci, row, gs, offs, n, c, 0xFFFF, d);
        if (c < ci) {
            const std::size_t rest = ci - c;
            const auto last = static_cast<__mmask16>((1u << (rest > 16 ? rest - 16 : rest)) - 1);
            if (rest > 16)
                window_grad_block<2>(xp, ci, row, gs, offs, n, c, last, d);
            else
                window_grad_block<1>(xp, ci, row, gs, offs, n, c, last, d);
        }
    }
}
#endif

// dw[o][c][3 x 3] from the sums dwt [out_channels][9][channels], written or with write::accumulate
// added.
inline void window_grad_store(const winograd_shape& s, const float* dwt, float* dw, write mode) {
    const std::size_t ci = s.channels;
    for (std::size_t o = 0; o < s.out_channels; ++o)
        for (std::size_t c = 0; c < ci; ++c)
            for (std::size_t tap = 0; tap < 9; ++tap)
                store(dw + (o * ci + c) * 9, tap, dwt[(o * 9 + tap) * ci + c], mode);
}

}  // namespace katachi::kernels::detail
