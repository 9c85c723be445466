// katachi/kernels/winograd/sparse_backward.hpp: winograd_sparse_backward, the gradients of a 3x3
// convolution of stride 1 (a shape Winograd runs, conv2d.hpp) summed from the nonzero entries of its
// output gradient alone, where most of them are zero.
//
// A convolution followed by a relu and a max pooling, run one op after another (the eager face's
// functional forms, or modules outside a sequential, which runs the three as the fused op), gets back a gradient that is zero at three of every window's
// four outputs at least, and where the relu stopped the window. Winograd's backward transforms and
// multiplies it whole; summed from the nonzero entries, as the graph face's fused node does from the
// windows (window_backward.hpp, whose register kernels this reuses),
//     dw[o][c][tap]             = sum over nonzero dy[o][q] of dy[o][q] * x[c][q + tap]
//     dx[c][q + tap]           += dy[o][q] * w[o][c][tap]
// takes 9 x O x C products per nonzero pixel and channel pair against Winograd's 4 x O x C per
// pixel and its transforms. So it runs where at most winograd_sparse_density of the gradient is
// nonzero, judged on the first samples; elsewhere the caller keeps Winograd. AVX-512F only.
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

// The share of nonzero output gradients up to which the sums from them run. bench/
// bench_winograd_sparse.cpp times both passes at batch 64 on an AMD Zen 4 (AVX-512 on 256-bit
// units): the sums are as fast as Winograd's backward at 0.35-0.4 of the gradient nonzero for 16
// and 32 input channels, at 0.45-0.5 for 64, and take 0.45-0.8 of its time after a relu and a 2x2
// pooling (at most a quarter nonzero). A relu alone leaves about half nonzero: Winograd's there.
inline constexpr double winograd_sparse_density = 0.4;

// One part's scratch: the padded input and input gradient (from a 64-byte boundary), one sample
// channels-last, and the lists: dw's (a gradient and an offset per pixel) or dx's (per pixel the
// output channels whose gradient is nonzero, where each pixel's list starts, one pixel's list).
constexpr std::size_t winograd_sparse_part_size(const winograd_shape& s) {
    const std::size_t pixels = s.out_pixels();
    return 16 + 2 * window_padded_size(s) + s.in_pixels() * s.channels +
           std::max(2 * pixels, 2 * s.out_channels * pixels + pixels + 1 + 2 * s.out_channels);
}

// The scratch winograd_sparse_backward takes: the weight by blocks of 16 channels, the block of
// dw's sums and the bias sums, then part 0's scratch.
constexpr std::size_t winograd_sparse_workspace_size(const winograd_shape& s) {
    return 16 + window_weight_size(s) + 9 * s.channels * s.out_channels + s.out_channels +
           winograd_sparse_part_size(s);
}

#if KATACHI_AVX2_CODE
// One sample's dw (onto dwt [out_channels][9][channels]) and bias sums (onto sums, may be null)
// from its output gradient dy [out_channels][pixels] and its padded input xp.
KATACHI_TARGET_AVX512 inline void sparse_weight_grad_sample(const winograd_shape& s, const float* xp,
                                                            const float* dy, float* dwt, float* sums,
                                                            float* list) {
    const std::size_t ci = s.channels, pixels = s.out_pixels(), wo = s.out_width, row = wo + 2;
    float* gs = list;
    auto* offs = reinterpret_cast<std::uint32_t*>(list + pixels);
    for (std::size_t o = 0; o < s.out_channels; ++o) {
        const float* d = dy + o * pixels;
        std::size_t n = 0;
        float total = 0.f;
        for (std::size_t i = 0; i < s.out_height; ++i)
            for (std::size_t j = 0; j < wo; ++j) {
                const float v = d[i * wo + j];
                gs[n] = v;
                offs[n] = static_cast<std::uint32_t>((i * row + j) * ci);
                n += v != 0.f;
                total += v;
            }
        if (sums != nullptr) sums[o] += total;
        if (n != 0 && dwt != nullptr) window_weight_blocks(xp, ci, row, gs, offs, n, dwt + o * 9 * ci);
    }
}

// One sample's dx onto the padded dxp from wt (window_weight_size's layout) and dy: per pixel the
// output channels whose gradient is nonzero are listed, then 16 input channels at a time each
// pixel's 3x3 patch is summed over its list in registers and added once.
KATACHI_TARGET_AVX512 inline void sparse_input_grad_sample(const winograd_shape& s, const float* wt,
                                                           const float* dy, float* dxp, float* list) {
    const std::size_t co = s.out_channels, pixels = s.out_pixels(), wo = s.out_width;
    const std::size_t row = wo + 2;
    float* gs = list;
    auto* offs = reinterpret_cast<std::uint32_t*>(gs + co * pixels);
    auto* starts = offs + co * pixels;  // [pixels + 1]
    float* part_g = reinterpret_cast<float*>(starts + pixels + 1);
    auto* part_o = reinterpret_cast<std::uint32_t*>(part_g + co);
    std::size_t n = 0;
    for (std::size_t q = 0; q < pixels; ++q) {
        std::size_t count = 0;
        for (std::size_t o = 0; o < co; ++o) {
            const float v = dy[o * pixels + q];
            part_g[count] = v;
            part_o[count] = static_cast<std::uint32_t>(o * 9 * 16);
            count += v != 0.f;
        }
        starts[q] = static_cast<std::uint32_t>(n);
        std::copy(part_g, part_g + count, gs + n);
        std::copy(part_o, part_o + count, offs + n);
        n += count;
    }
    starts[pixels] = static_cast<std::uint32_t>(n);
    window_input_patches(
        s, wt, gs, offs, starts, pixels, [&](std::size_t q) { return (q / wo) * row + q % wo; }, dxp);
}

// The share of nonzero entries in the first few samples of dy (at most four).
KATACHI_TARGET_AVX512 inline double sparse_density(const winograd_shape& s, const float* dy) {
    const std::size_t n = std::min<std::size_t>(s.batch, 4) * s.out_image_size();
    std::size_t nonzero = 0, i = 0;
    const __m512 zero = _mm512_setzero_ps();
    for (; i + 16 <= n; i += 16)
        nonzero += static_cast<std::size_t>(
            __builtin_popcount(_mm512_cmp_ps_mask(_mm512_loadu_ps(dy + i), zero, _CMP_NEQ_UQ)));
    for (; i < n; ++i) nonzero += dy[i] != 0.f;
    return n == 0 ? 1.0 : static_cast<double>(nonzero) / static_cast<double>(n);
}
#endif

// Whether winograd_sparse_backward would run here for this output gradient: float on AVX-512F,
// with `available` elements of scratch for it, and dy sparse enough.
template <class T>
bool winograd_sparse_runs(const winograd_shape& s, const T* dy, std::size_t available) {
#if KATACHI_AVX2_CODE
    if constexpr (std::is_same_v<T, float>)
        return avx512_available() && winograd_sparse_workspace_size(s) <= available &&
               sparse_density(s, dy) <= winograd_sparse_density;
#endif
    (void)s, (void)dy, (void)available;
    return false;
}

// dw and db (each may be null) written or with `mode` added, and dx (may be null) likewise, of the
// 3x3 convolution s (stride 1) for the output gradient dy [batch, out_channels, out_height,
// out_width], summed from dy's nonzero entries. Runs where winograd_sparse_runs; `ws` holds
// winograd_sparse_workspace_size(s) elements.
template <class T>
void winograd_sparse_backward(const winograd_shape& s, const T* image, const T* w, const T* dy, T* dw, T* db,
                              T* dx, T* ws, write mode) {
    static_assert(std::is_same_v<T, float>, "winograd_sparse_backward: the pass is float's");
#if KATACHI_AVX2_CODE
    const std::size_t ci = s.channels, taps = 9 * s.out_channels * ci, padded = window_padded_size(s);
    const bool sums_wanted = dw != nullptr || db != nullptr;
    const window_sums sums(s, w, ws, dx != nullptr, sums_wanted);
    parallel_for(s.batch, sums.parts, [&](std::size_t n0, std::size_t n1, unsigned part) {
        float* xp = window_aligned(sums.area(part, winograd_sparse_part_size(s)));
        float* dxp = xp + padded;
        float* sample = dxp + padded;
        float* list = sample + s.in_pixels() * ci;
        float* acc = sums.sums(part);
        std::fill(xp, xp + padded, 0.f);
        for (std::size_t n = n0; n < n1; ++n) {
            const float* d = dy + n * s.out_image_size();
            if (dw != nullptr) window_pad_sample(s, image + n * s.image_size(), sample, xp);
            if (sums_wanted)
                sparse_weight_grad_sample(s, xp, d, dw != nullptr ? acc : nullptr, acc + taps, list);
            if (dx != nullptr) {
                std::fill(dxp, dxp + padded, 0.f);
                sparse_input_grad_sample(s, sums.wt, d, dxp, list);
                window_unpad_sample(s, dxp, sample, dx + n * s.image_size(), mode);
            }
        }
    });
    window_store_grads(s, sums.result, sums.partials, sums.parts, dw, db, mode);
#else
    (void)s, (void)image, (void)w, (void)dy, (void)dw, (void)db, (void)dx, (void)ws, (void)mode;
#endif
}

}  // namespace katachi::kernels::detail
