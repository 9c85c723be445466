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
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/conv_relu_pool/portable.hpp"
#include "katachi/kernels/conv_relu_pool/shape.hpp"
#include "katachi/kernels/conv_relu_pool/vector.hpp"
#include "katachi/kernels/conv_scratch.hpp"
#include "katachi/parallel.hpp"

namespace katachi::kernels::detail {

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
    // The channels o0 <= o < o1 of the samples n0 <= n < n1, each part spreading its samples itself.
    const auto run = [&](std::size_t n0, std::size_t n1, std::size_t o0, std::size_t o1, unsigned part) {
        T* d = part == 0 ? ws : thread_scratch<T, conv_part_scratch_tag>(s.part_size());
        for (std::size_t n = n0; n < n1; ++n) {
            conv_pool_spread(s, x + n * image, d);
            std::uint8_t* sample_at = at != nullptr ? at + n * pooled : nullptr;
#if KATACHI_AVX2_CODE
            if constexpr (std::is_same_v<T, float>)
                if (vector) {
                    conv_pool_forward_sample(s, d, w, bias, y + n * pooled, sample_at, o0, o1);
                    continue;
                }
#endif
            conv_pool_forward_sample_portable(s, d, w, bias, y + n * pooled, sample_at, o0, o1);
        }
    };
    // Fewer samples than threads (a batch of one): each thread takes pairs of output channels of
    // every sample (the vector pass makes two channels at a time). Otherwise each takes samples.
    const std::size_t pairs = s.out_channels / 2;
    if (const unsigned parts = katachi::detail::group_parts(s.batch, pairs)) {
        parallel_for(pairs, parts, [&](std::size_t p0, std::size_t p1, unsigned part) {
            run(0, s.batch, 2 * p0, p1 == pairs ? s.out_channels : 2 * p1, part);
        });
        return;
    }
    parallel_for(s.batch, parallel_parts(s.batch), [&](std::size_t n0, std::size_t n1, unsigned part) {
        run(n0, n1, 0, s.out_channels, part);
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
                    conv_pool_grad_sample(s, d, dy + n * pooled, y + n * pooled, at + n * pooled,
                                          (s.batch - n) * pooled, sums);
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
