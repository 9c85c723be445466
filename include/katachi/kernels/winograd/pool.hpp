// katachi/kernels/winograd/pool.hpp: winograd_convolve_pool, the fused Winograd forward
// (forward.hpp) with the relu and the 2x2 max pooling of stride 2 after it taken in (the graph
// face's conv_relu_max_pool2d, ops/conv_relu_max_pool2d.hpp). Each output tile of F(2x2, 3x3) is
// one pooling window, so the tile's four outputs are pooled where the output transform leaves them
// in the core's first-level cache: the convolution's full-size output is never written, and the
// copy back to planes moves a quarter of it.
//
// The values are those of the convolution, the relu and the pooling one after the other, bit for
// bit: the bias is added after the maximum, and rounding keeps the order, so max(a + b) is
// max(a) + b. The window position is chosen on the values before the bias, so where adding the
// bias rounds two candidates to one value the position may be a later one of the tied maxima (the
// same value; the unfused pooling takes the first).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/fma_block.hpp"
#include "katachi/kernels/winograd/forward.hpp"
#include "katachi/kernels/winograd/shape.hpp"
#include "katachi/kernels/winograd/transforms.hpp"
#include "katachi/kernels/winograd/transpose.hpp"
#include "katachi/parallel.hpp"

namespace katachi::kernels::detail {

// A thread's share of the output channels when a batch is split over channels: a multiple of
// fma_block's widest row of vectors (two of 16 floats), so each part's products keep whole blocks.
inline constexpr std::size_t winograd_pool_channel_group = 32;

// Tiles from which the pooled forward pays (over the batch): one 14x14 sample. It needs room for one
// block of tiles only and transforms the weight once a call (about 12 us for 32 -> 64): a LeNet's
// forward at batch 1 on one thread took 73-77 us with its second convolution here, 109 us lowered.
// (conv2d's own rule, winograd_pays, waits for four such samples: its backward's chunks and second
// weight transform need them.)
inline constexpr std::size_t winograd_pool_min_tiles = 49;

// Whether the shape suits winograd_convolve_pool: an output of even height and width (every tile a
// whole window), and enough channels and tiles to pay.
constexpr bool winograd_pool_fits(const winograd_shape& s) {
    return s.out_height % 2 == 0 && s.out_width % 2 == 0 && s.channels >= winograd_min_channels &&
           s.out_channels >= winograd_min_out_channels && s.batch * s.tiles() >= winograd_pool_min_tiles;
}

// The scratch winograd_convolve_pool takes: U, then part 0's block (the other parts take the same
// from their thread's conv scratch); 0 where the shape does not suit it.
constexpr std::size_t winograd_pool_workspace_size(const winograd_shape& s) {
    return winograd_pool_fits(s) ? s.weights_size() + s.part_size_for(winograd_fused_tiles) : 0;
}

// Whether winograd_convolve_pool runs this convolution: float where the fused forward runs (AVX2
// and FMA), on a shape that suits it.
template <class T>
bool winograd_pool_runs(const winograd_shape& s) {
    return winograd_on_fma_block<T>() && winograd_pool_fits(s);
}

// The scratch of `part`: after U in the caller's workspace for part 0, the worker's own else.
inline float* winograd_pool_part_area(const winograd_shape& s, float* ws, unsigned part) {
    return part == 0 ? ws + s.weights_size()
                     : thread_scratch<float, conv_part_scratch_tag>(s.part_size_for(winograd_fused_tiles));
}

#if KATACHI_AVX2_CODE
// The largest of a tile's four outputs q[0..3][n] (channels-last) per channel into pooled[n], a
// later candidate winning when greater or NaN, and with `at` its window position, one byte per
// channel at stride at_step.
KATACHI_TARGET_AVX2 inline void winograd_pool_tile(const float* q, std::size_t n, float* pooled,
                                                   std::uint8_t* at, std::size_t at_step) {
    std::size_t o = 0;
    for (; o + 8 <= n; o += 8) {
        __m256 best = _mm256_loadu_ps(q + o);
        __m256i position = _mm256_setzero_si256();
        for (std::size_t k = 1; k < 4; ++k) {
            const __m256 c = _mm256_loadu_ps(q + k * n + o);
            const __m256 take =
                _mm256_or_ps(_mm256_cmp_ps(c, best, _CMP_GT_OQ), _mm256_cmp_ps(c, c, _CMP_UNORD_Q));
            best = _mm256_blendv_ps(best, c, take);
            position = _mm256_blendv_epi8(position, _mm256_set1_epi32(static_cast<int>(k)),
                                          _mm256_castps_si256(take));
        }
        _mm256_storeu_ps(pooled + o, best);
        if (at != nullptr) {
            alignas(32) std::int32_t p[8];
            _mm256_store_si256(reinterpret_cast<__m256i*>(p), position);
            for (std::size_t l = 0; l < 8; ++l) at[(o + l) * at_step] = static_cast<std::uint8_t>(p[l]);
        }
    }
    for (; o < n; ++o) {
        float best = q[o];
        std::uint8_t position = 0;
        for (std::size_t k = 1; k < 4; ++k) {
            const float c = q[k * n + o];
            if (c > best || c != c) best = c, position = static_cast<std::uint8_t>(k);
        }
        pooled[o] = best;
        if (at != nullptr) at[o * at_step] = position;
    }
}

// v < 0 ? 0 : v over n floats, in place (max(0, v) keeps NaN and -0 as that does).
KATACHI_TARGET_AVX2 inline void winograd_pool_relu(float* y, std::size_t n) {
    const __m256 zero = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_max_ps(zero, _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] = y[i] < 0.f ? 0.f : y[i];
}

// The fused forward of `count` samples with the pooling taken in: out[count, out_channels, Hp, Wp]
// (Hp, Wp half the convolution's output) and, with `at`, the window positions in out's order. ut
// holds U[xi] by column (winograd_weights with by_column). Only the output channels o0 <= o <
// o0 + o_count are made (all of them in a batch split over samples; a part of them on each thread
// when the batch is smaller than the threads); each part transforms the samples' input itself.
KATACHI_TARGET_AVX2 inline void winograd_convolve_fused_pool(const winograd_shape& s, const float* image,
                                                             std::size_t count, const float* ut,
                                                             const float* bias, float* out, std::uint8_t* at,
                                                             const winograd_buffers<float>& buf,
                                                             std::size_t o0, std::size_t o_count) {
    constexpr std::size_t rows = winograd_fused_tiles;
    const std::size_t ci = s.channels, co = s.out_channels, tiles = s.tiles(), n = o_count;
    winograd_shape part = s;  // the products and output transforms of this part's channels
    part.out_channels = n;
    float* quad = buf.out;            // a tile's four outputs, [4][n]
    float* pooled = buf.out + 4 * n;  // the sample's pooled values, channels-last [tiles][n]
    float* const py[4] = {quad, quad + n, quad + 2 * n, quad + 3 * n};
    for (std::size_t j = 0; j < count; ++j) {
        winograd_transpose(image + j * s.image_size(), s.in_pixels(), ci, s.in_pixels(), buf.in, ci,
                           static_cast<const float*>(nullptr), write::overwrite);
        std::uint8_t* sample_at = at != nullptr ? at + (j * co + o0) * tiles : nullptr;
        for (std::size_t t0 = 0; t0 < tiles; t0 += rows) {
            const std::size_t block = std::min(rows, tiles - t0);
            winograd_fused_products(part, t0, block, ut + o0, co, buf);
            for (std::size_t r = 0; r < block; ++r) {
                winograd_fused_tile_output(part, r, py, buf);
                const std::size_t t = t0 + r;
                winograd_pool_tile(quad, n, pooled + t * n, sample_at != nullptr ? sample_at + t : nullptr,
                                   tiles);
            }
        }
        float* y = out + (j * co + o0) * tiles;
        winograd_transpose(pooled, n, tiles, n, y, tiles, bias != nullptr ? bias + o0 : nullptr,
                           write::overwrite);
        winograd_pool_relu(y, n * tiles);
    }
}
#endif

// out[batch, out_channels, out_height / 2, out_width / 2] = the 2x2 max pooling (stride 2) of the
// relu of the convolution of image with the 3x3 weight w (+ bias, may be null), and with `at` (may
// be null) each pooled value's window position. Runs only where winograd_pool_runs<T>(s), so T is
// float (a template so that KATACHI_EXTERN_KERNELS can take its instance from libkatachi);
// `ws` holds winograd_pool_workspace_size(s) elements. `prepared` (may be null): w's transform as
// winograd_prepare_pool made it, read instead of transforming w here.
template <class T>
void winograd_convolve_pool(const winograd_shape& s, const T* image, const T* w, const T* bias, T* out,
                            std::uint8_t* at, T* ws, const T* prepared = nullptr) {
    static_assert(std::is_same_v<T, float>, "winograd_convolve_pool: the fused pass is float's");
#if KATACHI_AVX2_CODE
    const std::size_t co = s.out_channels, pooled = co * s.tiles();
    const float* ut = prepared != nullptr ? prepared : ws;
    // The output channels o0 <= o < o1 of the samples n0 <= n < n1, in part's scratch.
    const auto run = [&](std::size_t n0, std::size_t n1, std::size_t o0, std::size_t o1, unsigned part) {
        const winograd_buffers<float> buf(s, winograd_pool_part_area(s, ws, part), winograd_fused_tiles);
        std::fill(buf.in_extra, buf.in_extra + s.channels, 0.f);
        winograd_convolve_fused_pool(s, image + n0 * s.image_size(), n1 - n0, ut, bias, out + n0 * pooled,
                                     at != nullptr ? at + n0 * pooled : nullptr, buf, o0, o1 - o0);
    };
    // Fewer samples than threads (a batch of one): each thread takes whole groups of
    // winograd_pool_channel_group output channels of every sample, their weights' transform
    // included, and transforms the input itself. Otherwise each takes whole samples.
    const std::size_t groups = co / winograd_pool_channel_group;
    if (const unsigned parts = katachi::detail::group_parts(s.batch, groups)) {
        parallel_for(groups, parts, [&](std::size_t g0, std::size_t g1, unsigned part) {
            const std::size_t o0 = g0 * winograd_pool_channel_group;
            const std::size_t o1 = g1 == groups ? co : g1 * winograd_pool_channel_group;
            if (prepared == nullptr) winograd_weights(co, s.channels, w, false, true, ws, o0, o1);
            run(0, s.batch, o0, o1, part);
        });
        return;
    }
    if (prepared == nullptr) winograd_weights(co, s.channels, w, false, true, ws);
    parallel_for(s.batch, parallel_parts(s.batch),
                 [&](std::size_t n0, std::size_t n1, unsigned part) { run(n0, n1, 0, co, part); });
#else
    (void)s, (void)image, (void)w, (void)bias, (void)out, (void)at, (void)ws, (void)prepared;
#endif
}

// What winograd_convolve_pool may read as `prepared` for the weight w of shape s (any batch): its
// transform U by column, winograd_prepared_size(s) elements. Float where winograd_on_fma_block.
constexpr std::size_t winograd_prepared_size(const winograd_shape& s) {
    return 16 * s.channels * s.out_channels;
}
inline void winograd_prepare_pool(const winograd_shape& s, const float* w, float* prepared) {
    winograd_weights(s.out_channels, s.channels, w, false, true, prepared);
}

}  // namespace katachi::kernels::detail
