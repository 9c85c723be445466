// katachi/kernels/winograd/weight_grad.hpp: winograd_weight_grad, the weight (and bias) gradient
// of a Winograd convolution: dU[xi] summed over tiles from the output gradient's dM and the input's
// V, one block of partial sums per thread, then dw = G^T dU G.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/conv_scratch.hpp"
#include "katachi/kernels/fma_block.hpp"
#include "katachi/kernels/gemm.hpp"
#include "katachi/kernels/winograd/forward.hpp"
#include "katachi/kernels/winograd/shape.hpp"
#include "katachi/kernels/winograd/transforms.hpp"
#include "katachi/kernels/winograd/transpose.hpp"
#include "katachi/parallel.hpp"

namespace katachi::kernels::detail {

// sums[c] += the sum of plane c of x[channels, positions].
template <class T>
void channel_sums_onto(const T* x, std::size_t channels, std::size_t positions, T* sums) {
    constexpr std::size_t lanes = 8;  // independent partial sums, so the adds pipeline and vectorize
    for (std::size_t c = 0; c < channels; ++c) {
        const T* row = x + c * positions;
        T acc[lanes] = {};
        std::size_t i = 0;
        for (; i + lanes <= positions; i += lanes)
            for (std::size_t l = 0; l < lanes; ++l) acc[l] += row[i + l];
        T total = T(0);
        for (; i < positions; ++i) total += row[i];
        for (T a : acc) total += a;
        sums[c] += total;
    }
}

// dM[xi][t][o] = (A dY A^T)[xi] for the tiles t of one sample whose output gradient is channels-last
// in `grad` (out_pixels x out_channels; `outside`, zeros, stands for pixels past the edge), into dm
// at stride `step` between the xi. Loops written out, so that inlined into a function compiled for
// AVX2 (winograd_output_grad_tiles below) they are compiled for it too.
template <class T>
[[gnu::always_inline]] inline void winograd_output_grad_tiles_body(const winograd_shape& s, const T* grad,
                                                                   const T* outside, T* dm,
                                                                   std::size_t step) {
    constexpr std::size_t lanes = winograd_lanes<T>;
    const std::size_t n = s.out_channels, tw = s.tile_cols();
    for (std::size_t ti = 0; ti < s.tile_rows(); ++ti)
        for (std::size_t tj = 0; tj < tw; ++tj) {
            const T* py[4];
            winograd_output_pixels(ti, tj, s.out_height, s.out_width, n, grad, outside, py);
            T* d = dm + (ti * tw + tj) * n;
            std::size_t o = 0;
            for (; o + lanes <= n; o += lanes) winograd_tile_output_grad<lanes>(py, o, d + o, step);
            for (; o < n; ++o) winograd_tile_output_grad<1>(py, o, d + o, step);
        }
}

#if KATACHI_AVX2_CODE
KATACHI_TARGET_AVX2 inline void winograd_output_grad_tiles_avx2(const winograd_shape& s, const float* grad,
                                                                const float* outside, float* dm,
                                                                std::size_t step) {
    winograd_output_grad_tiles_body<float>(s, grad, outside, dm, step);
}
#endif

template <class T>
void winograd_output_grad_tiles(const winograd_shape& s, const T* grad, const T* outside, T* dm,
                                std::size_t step) {
#if KATACHI_AVX2_CODE
    if constexpr (std::is_same_v<T, float>)
        if (avx2_available()) {
            winograd_output_grad_tiles_avx2(s, grad, outside, dm, step);
            return;
        }
#endif
    winograd_output_grad_tiles_body<T>(s, grad, outside, dm, step);
}

// dM for the tiles of the `count` samples of dy (nt = count * tiles rows per xi). Each sample is
// first copied channels-last to buf.out; buf.out_extra must hold zeros. Adds each dy plane's sum
// onto sums[o].
template <class T>
void winograd_output_grad(const winograd_shape& s, const T* dy, std::size_t count, T* dm, std::size_t nt,
                          const winograd_buffers<T>& buf, T* sums) {
    const std::size_t n = s.out_channels;
    for (std::size_t j = 0; j < count; ++j) {
        const T* src = dy + j * s.out_image_size();
        winograd_transpose(src, s.out_pixels(), n, s.out_pixels(), buf.out, n, static_cast<const T*>(nullptr),
                           write::overwrite);
        channel_sums_onto(src, n, s.out_pixels(), sums);
        winograd_output_grad_tiles(s, static_cast<const T*>(buf.out), static_cast<const T*>(buf.out_extra),
                                   dm + j * s.tiles() * n, nt * n);
    }
}

// dw[out_channels, channels, 3, 3] of the convolution for the cotangent dy[batch, out_channels,
// out_height, out_width], and with `db` (may be null) the bias gradient; written, or with
// write::accumulate added. With several threads each part sums its chunks into its own dU block
// (part 0 into `ws`), and the blocks are added before the weight transform.
template <class T>
void winograd_weight_grad(const winograd_shape& s, const T* image, const T* dy, T* dw, T* db, T* ws,
                          write mode) {
    const std::size_t ci = s.channels, co = s.out_channels, per_chunk = s.chunk_samples();
    const std::size_t chunks = (s.batch + per_chunk - 1) / per_chunk;
    const std::size_t du_size = 16 * co * ci, block = du_size + co;  // dU, then the bias sums
    T* result = ws;
    const unsigned parts = parallel_parts(chunks);
    [[maybe_unused]] const bool on_fma_block = winograd_on_fma_block<T>();
    T* partials = parts > 1 ? thread_scratch<T, conv_partials_tag>((parts - 1) * block) : nullptr;
    if (chunks == 0) std::fill(result, result + block, T(0));
    parallel_for(chunks, parts, [&](std::size_t c0, std::size_t c1, unsigned part) {
        const winograd_buffers<T> buf(s, winograd_part_area(s, ws, part));
        std::fill(buf.in_extra, buf.in_extra + ci, T(0));
        std::fill(buf.out_extra, buf.out_extra + co, T(0));
        T* du = part == 0 ? result : partials + (part - 1) * block;
        T* sums = du + du_size;
        std::fill(sums, sums + co, T(0));
        for (std::size_t first = c0 * per_chunk; first < std::min(s.batch, c1 * per_chunk);
             first += per_chunk) {
            const std::size_t count = std::min(per_chunk, s.batch - first), nt = count * s.tiles();
            const T beta = first == c0 * per_chunk ? T(0) : T(1);
            winograd_input(s, image + first * s.image_size(), count, buf.v, nt, buf);
            winograd_output_grad(s, dy + first * s.out_image_size(), count, buf.m, nt, buf, sums);
            // dU[xi] [out_channels, channels] (+)= dM[xi]^T V[xi], both [tiles, channels]
#if KATACHI_AVX2_CODE
            if constexpr (std::is_same_v<T, float>)
                if (on_fma_block) {
                    for (std::size_t xi = 0; xi < 16; ++xi)
                        fma_product(co, ci, nt, buf.m + xi * nt * co, 1, co, buf.v + xi * nt * ci, ci,
                                    du + xi * co * ci, ci, beta != T(0));
                    continue;
                }
#endif
            for (std::size_t xi = 0; xi < 16; ++xi)
                gemm(true, false, co, ci, nt, T(1), buf.m + xi * nt * co, buf.v + xi * nt * ci, beta,
                     du + xi * co * ci);
        }
    });
    for (unsigned part = 1; part < parts; ++part) {
        const T* sums = partials + (part - 1) * block;
        for (std::size_t i = 0; i < block; ++i) result[i] += sums[i];
    }
    winograd_weights_grad(s, result, dw, mode);
    if (db != nullptr)
        for (std::size_t o = 0; o < co; ++o) store(db, o, result[du_size + o], mode);
}

}  // namespace katachi::kernels::detail
