// katachi/kernels/winograd/forward.hpp: winograd_convolve, the forward of a Winograd convolution
// (and its input gradient, a forward with the weight turned): in chunks of samples through 16
// GEMMs, or fused per block of tiles on fma_block where the processor has AVX2 and FMA
// (winograd_convolve_fused), spread over katachi's threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/fma_block.hpp"
#include "katachi/kernels/gemm.hpp"
#include "katachi/kernels/winograd/shape.hpp"
#include "katachi/kernels/winograd/transforms.hpp"
#include "katachi/kernels/winograd/transpose.hpp"
#include "katachi/parallel.hpp"

namespace katachi::kernels::detail {

// Whether Winograd's products run on fma_block (fma_block.hpp): in float where the processor has
// AVX2 and FMA. Then the forward (and dx) run fused: each sample's tiles go in blocks of
// winograd_fused_tiles, and one block's V, its 16 products and its output transform stay in the
// core's first-level cache; V and M never go to memory, OpenBLAS does not pack the 16 short
// products, and no M is cleared. The weight gradient keeps its chunks, its 16 products on
// fma_block. Otherwise (double, or no AVX2) the chunks of tiles go through OpenBLAS as described at
// the top.
template <class T>
bool winograd_on_fma_block() {
    return std::is_same_v<T, float> && fma_block_available();
}

#if KATACHI_AVX2_CODE
// One block of the fused forward: V[xi][r][c] of the tiles t0 + r, r < block, from the sample in
// buf.in (channels-last), then M[xi][r][o] = V[xi] U[xi]^T in buf.m for o < s.out_channels; ut holds
// U[xi] by column, ldu floats a row (more than s.out_channels where s is a part of the channels).
[[gnu::always_inline]] KATACHI_TARGET_AVX2 inline void winograd_fused_products(
    const winograd_shape& s, std::size_t t0, std::size_t block, const float* ut, std::size_t ldu,
    const winograd_buffers<float>& buf) {
    constexpr std::size_t rows = winograd_fused_tiles, lanes = winograd_lanes<float>;
    const std::size_t ci = s.channels, co = s.out_channels, tw = s.tile_cols();
    for (std::size_t r = 0; r < block; ++r) {
        const float* px[16];
        winograd_input_pixels(s, (t0 + r) / tw, (t0 + r) % tw, buf, px);
        float* d = buf.v + r * ci;
        std::size_t c = 0;
        for (; c + lanes <= ci; c += lanes) winograd_tile_input<lanes>(px, c, d + c, rows * ci);
        for (; c < ci; ++c) winograd_tile_input<1>(px, c, d + c, rows * ci);
    }
    for (std::size_t xi = 0; xi < 16; ++xi)
        fma_product(block, co, ci, buf.v + xi * rows * ci, ci, 1, ut + xi * ci * ldu, ldu,
                    buf.m + xi * rows * co, co, false);
}

// The 2x2 output of the block's tile r (its M in buf.m) into the pixel rows py[0..3], channels-last.
[[gnu::always_inline]] KATACHI_TARGET_AVX2 inline void winograd_fused_tile_output(
    const winograd_shape& s, std::size_t r, float* const* py, const winograd_buffers<float>& buf) {
    constexpr std::size_t rows = winograd_fused_tiles, lanes = winograd_lanes<float>;
    const std::size_t co = s.out_channels;
    std::size_t o = 0;
    for (; o + lanes <= co; o += lanes) winograd_tile_output<lanes>(buf.m + r * co + o, rows * co, py, o);
    for (; o < co; ++o) winograd_tile_output<1>(buf.m + r * co + o, rows * co, py, o);
}

// One sample of the fused forward from buf.in (the sample channels-last; buf.in_extra holds zeros)
// into its planes at `out`: ut holds U[xi] by column (winograd_weights with by_column), written or
// with write::accumulate added, + bias (may be null).
KATACHI_TARGET_AVX2 inline void winograd_fused_sample(const winograd_shape& s, const float* ut,
                                                      const float* bias, float* out,
                                                      const winograd_buffers<float>& buf, write mode) {
    constexpr std::size_t rows = winograd_fused_tiles;
    const std::size_t co = s.out_channels, tw = s.tile_cols(), tiles = s.tiles();
    for (std::size_t t0 = 0; t0 < tiles; t0 += rows) {
        const std::size_t block = std::min(rows, tiles - t0);
        winograd_fused_products(s, t0, block, ut, co, buf);
        for (std::size_t r = 0; r < block; ++r) {
            float* py[4];
            winograd_output_pixels((t0 + r) / tw, (t0 + r) % tw, s.out_height, s.out_width, co, buf.out,
                                   buf.out_extra, py);
            winograd_fused_tile_output(s, r, py, buf);
        }
    }
    winograd_transpose(buf.out, co, s.out_pixels(), co, out, s.out_pixels(), bias, mode);
}

// The fused forward of the `count` samples of `image` into `out`, as winograd_fused_sample.
KATACHI_TARGET_AVX2 inline void winograd_convolve_fused(const winograd_shape& s, const float* image,
                                                        std::size_t count, const float* ut, const float* bias,
                                                        float* out, const winograd_buffers<float>& buf,
                                                        write mode) {
    for (std::size_t j = 0; j < count; ++j) {
        winograd_transpose(image + j * s.image_size(), s.in_pixels(), s.channels, s.in_pixels(), buf.in,
                           s.channels, static_cast<const float*>(nullptr), write::overwrite);
        winograd_fused_sample(s, ut, bias, out + j * s.out_image_size(), buf, mode);
    }
}
#endif

// out = the convolution of image[batch, channels, height, width] with the 3x3 weight w (+ bias, may
// be null), out[batch, out_channels, out_height, out_width]; with write::accumulate added onto out.
// w is [out_channels, channels, 3, 3], or with `turned` [channels, out_channels, 3, 3] used turned
// by 180 degrees with its channel axes swapped: then s is a convolution's adjoint() and this is its
// input gradient. `ws` holds winograd_workspace_size elements.
template <class T>
void winograd_convolve(const winograd_shape& s, const T* image, const T* w, bool turned, const T* bias,
                       T* out, T* ws, write mode) {
    const std::size_t ci = s.channels, co = s.out_channels, per_chunk = s.chunk_samples();
    const std::size_t chunks = (s.batch + per_chunk - 1) / per_chunk;
    if (chunks == 0) return;
    T* u = ws;
    const bool fused = winograd_on_fma_block<T>();
    winograd_weights(co, ci, w, turned, fused, u);
#if KATACHI_AVX2_CODE
    if constexpr (std::is_same_v<T, float>)
        if (fused) {
            parallel_for(s.batch, parallel_parts(s.batch),
                         [&](std::size_t b0, std::size_t b1, unsigned part) {
                             const winograd_buffers<T> buf(s, winograd_part_area(s, ws, part));
                             std::fill(buf.in_extra, buf.in_extra + ci, T(0));
                             winograd_convolve_fused(s, image + b0 * s.image_size(), b1 - b0, u, bias,
                                                     out + b0 * s.out_image_size(), buf, mode);
                         });
            return;
        }
#endif
    parallel_for(chunks, parallel_parts(chunks), [&](std::size_t c0, std::size_t c1, unsigned part) {
        const winograd_buffers<T> buf(s, winograd_part_area(s, ws, part));
        std::fill(buf.in_extra, buf.in_extra + ci, T(0));
        for (std::size_t first = c0 * per_chunk; first < std::min(s.batch, c1 * per_chunk);
             first += per_chunk) {
            const std::size_t count = std::min(per_chunk, s.batch - first), nt = count * s.tiles();
            winograd_input(s, image + first * s.image_size(), count, buf.v, nt, buf);
            // M[xi] [tiles, out_channels] = V[xi] [tiles, channels] U[xi]^T. The GEMMs add onto
            // zeros: for beta 0 OpenBLAS clears M itself one element at a time, which costs a
            // quarter of these short products (inner size C); the fill is three times faster.
            std::fill(buf.m, buf.m + 16 * nt * co, T(0));
            for (std::size_t xi = 0; xi < 16; ++xi)
                gemm(false, true, nt, co, ci, T(1), buf.v + xi * nt * ci, u + xi * co * ci, T(1),
                     buf.m + xi * nt * co);
            winograd_output(s, buf.m, nt, count, bias, out + first * s.out_image_size(), buf, mode);
        }
    });
}

}  // namespace katachi::kernels::detail
