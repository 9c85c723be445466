// katachi/kernels/winograd/pool_backward.hpp: winograd_pool_backward, the backward of
// winograd_convolve_pool (pool.hpp): the gradients of a 3x3 convolution, the relu after it and the
// 2x2 max pooling of stride 2 after that, from the pooled gradient and the window positions the
// forward kept.
//
// The unfused backward unpools the gradient into a full-size output gradient in planes, which the
// weight gradient and the input gradient then each copy channels-last again (weight_grad.hpp,
// forward.hpp). Here each sample's pooled gradient is unpooled straight into one channels-last
// buffer, where both read it while it is in cache: the weight gradient's output-gradient transform
// (dM = A dY A^T) and the input gradient's fused forward with the turned weight
// (winograd_fused_sample on s.adjoint()). The full-size gradient never goes to memory, and two of
// the three copies of it are gone. The values are those of the unfused backward: dw and dx bit for
// bit (the same products over the same chunks of samples), db in another order of its sums.
//
// On processors with AVX-512F the gradients are summed from each window's one position instead
// (window_backward.hpp): at most 9/16 of the products, and no transforms.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/conv_scratch.hpp"
#include "katachi/kernels/fma_block.hpp"
#include "katachi/kernels/winograd/forward.hpp"
#include "katachi/kernels/winograd/pool.hpp"
#include "katachi/kernels/winograd/shape.hpp"
#include "katachi/kernels/winograd/transforms.hpp"
#include "katachi/kernels/winograd/transpose.hpp"
#include "katachi/kernels/winograd/weight_grad.hpp"
#include "katachi/kernels/winograd/window_backward.hpp"
#include "katachi/parallel.hpp"

namespace katachi::kernels::detail {

// Whether the shape suits winograd_pool_backward: the forward's (winograd_pool_fits), with the batch
// conv2d's own Winograd backward waits for (winograd_pays: chunks of samples that pay for the two
// weight transforms).
constexpr bool winograd_pool_backward_fits(const winograd_shape& s) {
    return winograd_pool_fits(s) && winograd_pays(s);
}

// One part's scratch: the weight gradient's chunk buffers (V, dM, the input and the unpooled
// gradient channels-last), the input gradient's block of V and M (of s.adjoint(); its output goes
// channels-last into the chunk's input buffer), and a sample's pooled gradient and window positions,
// as planes and channels-last.
constexpr std::size_t winograd_pool_backward_part_size(const winograd_shape& s) {
    return s.part_size_for(s.chunk_tiles()) + 16 * (s.channels + s.out_channels) * winograd_fused_tiles +
           4 * s.out_channels * s.tiles();
}

// The scratch winograd_pool_backward takes: the turned weight's U, the block of dU and bias sums,
// then part 0's scratch (or what window_pool_backward takes, if more); 0 where the shape does not
// suit it.
constexpr std::size_t winograd_pool_backward_workspace_size(const winograd_shape& s) {
    return winograd_pool_backward_fits(s)
               ? std::max(winograd_prepared_size(s) + s.weights_size() + winograd_pool_backward_part_size(s),
                          window_workspace_size(s))
               : 0;
}

// Whether winograd_pool_backward runs this convolution: float where the fused forward runs, on a
// shape that suits it.
template <class T>
bool winograd_pool_backward_runs(const winograd_shape& s) {
    return winograd_on_fma_block<T>() && winograd_pool_backward_fits(s);
}

#if KATACHI_AVX2_CODE
// The output gradient of one sample, channels-last in `grad` ([out_pixels][out_channels]): the
// pooled gradient dy[o][t] where the pooled value y[o][t] is positive (relu's backward; zero where it
// is not, NaN included), at window position at[o][t] (0..3, row-major; another value sends the
// gradient nowhere) of tile t's 2x2 pixels, zeros at the other three. Adds each channel's passed
// gradients onto sums[o] (sums may be null). `planes` holds 4 * out_channels * tiles floats of scratch.
KATACHI_TARGET_AVX2 inline void winograd_pool_unpool(const winograd_shape& s, const float* dy, const float* y,
                                                     const std::uint8_t* at, float* planes, float* grad,
                                                     float* sums) {
    const std::size_t co = s.out_channels, tiles = s.tiles(), n = co * tiles;
    float* g = planes;               // [co][tiles]: the passed gradient
    float* pos = planes + n;         // [co][tiles]: the window positions as floats
    float* g_last = planes + 2 * n;  // [tiles][co]: both channels-last
    float* pos_last = planes + 3 * n;
    window_passed_gradient(s, dy, y, g, sums);
    for (std::size_t i = 0; i < n; ++i) pos[i] = static_cast<float>(at[i]);
    winograd_transpose(static_cast<const float*>(g), tiles, co, tiles, g_last, co,
                       static_cast<const float*>(nullptr), write::overwrite);
    winograd_transpose(static_cast<const float*>(pos), tiles, co, tiles, pos_last, co,
                       static_cast<const float*>(nullptr), write::overwrite);
    const std::size_t tw = s.tile_cols(), row = s.out_width * co;
    for (std::size_t t = 0; t < tiles; ++t) {
        float* p[4];
        p[0] = grad + (2 * (t / tw) * s.out_width + 2 * (t % tw)) * co;
        p[1] = p[0] + co;
        p[2] = p[0] + row;
        p[3] = p[2] + co;
        const float *gt = g_last + t * co, *pt = pos_last + t * co;
        std::size_t o = 0;
        for (; o + 8 <= co; o += 8) {
            const __m256 v = _mm256_loadu_ps(gt + o), where = _mm256_loadu_ps(pt + o);
            for (int k = 0; k < 4; ++k)
                _mm256_storeu_ps(
                    p[k] + o, _mm256_and_ps(_mm256_cmp_ps(where, _mm256_set1_ps(float(k)), _CMP_EQ_OQ), v));
        }
        for (; o < co; ++o)
            for (int k = 0; k < 4; ++k) p[k][o] = pt[o] == float(k) ? gt[o] : 0.f;
    }
}
#endif

// The gradients of out = pool(relu(conv(image, w) + bias)) as winograd_convolve_pool made it, from
// the pooled gradient dy and the pooled output y (both [batch, out_channels, out_height / 2,
// out_width / 2]) and the window positions `at` in their order: dw (and db, may be null) written or
// with dparams_mode write::accumulate added, dx (may be null) likewise with dx_mode. dw may be null
// too. With `window_sums`, where the processor has AVX-512F, window_pool_backward sums them. Runs
// only where winograd_pool_backward_runs<T>(s), so T is float (a template so that
// KATACHI_EXTERN_KERNELS can take its instance from libkatachi); `ws` holds
// winograd_pool_backward_workspace_size(s) elements.
template <class T>
void winograd_pool_backward(const winograd_shape& s, const T* image, const T* w, const T* dy, const T* y,
                            const std::uint8_t* at, T* dw, T* db, write dparams_mode, T* dx, write dx_mode,
                            T* ws, bool window_sums) {
    static_assert(std::is_same_v<T, float>, "winograd_pool_backward: the fused pass is float's");
#if KATACHI_AVX2_CODE
    if (window_sums && avx512_available()) {
        window_pool_backward(s, image, w, dy, y, at, dw, db, dparams_mode, dx, dx_mode, ws);
        return;
    }
    const std::size_t ci = s.channels, co = s.out_channels, tiles = s.tiles(), per_chunk = s.chunk_samples();
    const std::size_t chunks = (s.batch + per_chunk - 1) / per_chunk, rows = s.chunk_tiles();
    const std::size_t du_size = 16 * co * ci, block = du_size + co;  // dU, then the bias sums
    const bool sums_wanted = dw != nullptr || db != nullptr;
    if (!sums_wanted && dx == nullptr) return;
    const winograd_shape adjoint = s.adjoint();
    float* ut = ws;  // the turned weight's U by column, as the fused forward reads it
    float* result = ut + winograd_prepared_size(s);
    if (dx != nullptr) winograd_weights(ci, co, w, true, true, ut);
    const unsigned parts = parallel_parts(chunks);
    float* partials =
        parts > 1 && sums_wanted ? thread_scratch<float, conv_partials_tag>((parts - 1) * block) : nullptr;
    std::fill(result, result + block, 0.f);
    parallel_for(chunks, parts, [&](std::size_t c0, std::size_t c1, unsigned part) {
        float* area = part == 0
                          ? result + s.weights_size()
                          : thread_scratch<float, conv_part_scratch_tag>(winograd_pool_backward_part_size(s));
        const winograd_buffers<float> buf(s, area, rows);
        // The input gradient's forward reads the unpooled gradient (buf.out) as its input and
        // writes its output channels-last where the chunk's input goes later (buf.in).
        winograd_buffers<float> back;
        back.v = area + s.part_size_for(rows);
        back.m = back.v + 16 * co * winograd_fused_tiles;
        back.in = buf.out;
        back.in_extra = buf.out_extra;
        back.out = buf.in;
        back.out_extra = buf.in_extra;
        float* planes = back.m + 16 * ci * winograd_fused_tiles;
        std::fill(buf.out_extra, buf.out_extra + co, 0.f);
        float* du = part == 0 ? result : sums_wanted ? partials + (part - 1) * block : nullptr;
        float* sums = du != nullptr && sums_wanted ? du + du_size : nullptr;
        if (part != 0 && sums != nullptr) std::fill(sums, sums + co, 0.f);
        for (std::size_t first = c0 * per_chunk; first < std::min(s.batch, c1 * per_chunk);
             first += per_chunk) {
            const std::size_t count = std::min(per_chunk, s.batch - first), nt = count * tiles;
            for (std::size_t j = 0; j < count; ++j) {
                const std::size_t sample = first + j, pooled = sample * co * tiles;
                winograd_pool_unpool(s, dy + pooled, y + pooled, at + pooled, planes, buf.out, sums);
                if (dw != nullptr)
                    winograd_output_grad_tiles(s, static_cast<const float*>(buf.out),
                                               static_cast<const float*>(buf.out_extra),
                                               buf.m + j * tiles * co, nt * co);
                if (dx != nullptr)
                    winograd_fused_sample(adjoint, ut, nullptr, dx + sample * s.image_size(), back, dx_mode);
            }
            if (dw == nullptr) continue;
            // dU[xi] [out_channels, channels] (+)= dM[xi]^T V[xi], both [tiles, channels]
            std::fill(buf.in_extra, buf.in_extra + ci, 0.f);
            winograd_input(s, image + first * s.image_size(), count, buf.v, nt, buf);
            const bool onto = first != c0 * per_chunk;
            for (std::size_t xi = 0; xi < 16; ++xi)
                fma_product(co, ci, nt, buf.m + xi * nt * co, 1, co, buf.v + xi * nt * ci, ci,
                            du + xi * co * ci, ci, onto);
        }
    });
    const std::size_t from = dw != nullptr ? 0 : du_size;
    for (unsigned part = 1; part < parts && sums_wanted; ++part) {
        const float* other = partials + (part - 1) * block;
        for (std::size_t i = from; i < block; ++i) result[i] += other[i];
    }
    if (dw != nullptr) winograd_weights_grad(s, result, dw, dparams_mode);
    if (db != nullptr)
        for (std::size_t o = 0; o < co; ++o) store(db, o, result[du_size + o], dparams_mode);
#else
    (void)s, (void)image, (void)w, (void)dy, (void)y, (void)at, (void)dw, (void)db, (void)dparams_mode,
        (void)dx, (void)dx_mode, (void)ws, (void)window_sums;
#endif
}

}  // namespace katachi::kernels::detail
