// katachi/kernels/max_pool2d/plain_2x2.hpp: the plain 2x2 max pooling (stride 2, no padding or
// dilation, floor mode), forward and backward: 8 windows at a time in float on AVX2, else in
// stretches that vectorize; with flat indices, with window positions (std::uint8_t) or without
// indices, and the backward from window positions (max_unpool_2x2). The same values and indices as
// the window loop of max_pool2d/window.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <katachi/kernels/common.hpp>
#include <katachi/kernels/max_pool2d/window.hpp>
#include <katachi/kernels/simd.hpp>

namespace katachi::kernels::detail {

#if KATACHI_AVX2_CODE
// Up to 8 floats from p: all when count is 8, else the first count (zeros after, nothing read there).
KATACHI_TARGET_AVX2 inline __m256 load_first(const float* p, std::size_t count) {
    return count >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lanes_below(count));
}

// The rows' writes and the loads that go with them: a block of 8 is stored whole even where fewer
// than 8 remain in the row, as long as it ends before `end` (the end of the part's planes), since
// what it runs into is written later (masked stores are slow on some processors, AMD's among them).
// An accumulating load reads the whole block too, so what lies beyond is stored back unchanged.
KATACHI_TARGET_AVX2 inline void store_block(float* p, std::size_t count, const float* end, __m256 v) {
    if (p + 8 <= end)
        _mm256_storeu_ps(p, v);
    else if (count > 0)
        _mm256_maskstore_ps(p, lanes_below(count), v);
}
KATACHI_TARGET_AVX2 inline __m256 load_block(const float* p, std::size_t count, const float* end) {
    return p + 8 <= end ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lanes_below(count));
}

// One output row of max_pool_2x2 below, 8 windows at a time: r0, r1 are the windows' two input
// rows, `first` the flat index of r0[0], w the input's width; y_end and idx_end as store_block's end.
// With I void no indices are kept (max_pool_2x2_values).
template <class I>
KATACHI_TARGET_AVX2 inline void max_pool_2x2_row_avx2(const float* r0, const float* r1, float* y, I* idx,
                                                      std::size_t n, std::int64_t first, std::int64_t w,
                                                      const float* y_end, const I* idx_end) {
    for (std::size_t j = 0; j < n; j += 8) {
        const std::size_t m = std::min<std::size_t>(8, n - j), low = std::min<std::size_t>(2 * m, 8),
                          high = 2 * m - low;
        // The windows' four candidates, for windows in the order 0 1 4 5 2 3 6 7 (shuffle_ps works
        // within 128-bit halves); the results are put in order at the end.
        const __m256 a0 = load_first(r0 + 2 * j, low), a1 = load_first(r0 + 2 * j + 8, high);
        const __m256 b0 = load_first(r1 + 2 * j, low), b1 = load_first(r1 + 2 * j + 8, high);
        const __m256 c[4] = {_mm256_shuffle_ps(a0, a1, 0x88), _mm256_shuffle_ps(a0, a1, 0xDD),
                             _mm256_shuffle_ps(b0, b1, 0x88), _mm256_shuffle_ps(b0, b1, 0xDD)};
        __m256 best = c[0];
        __m256i at = _mm256_setzero_si256();
        for (int k = 1; k < 4; ++k) {  // a later candidate wins when greater or NaN
            const __m256 take =
                _mm256_or_ps(_mm256_cmp_ps(c[k], best, _CMP_GT_OQ), _mm256_cmp_ps(c[k], c[k], _CMP_UNORD_Q));
            best = _mm256_blendv_ps(best, c[k], take);
            at = _mm256_blendv_epi8(at, _mm256_set1_epi32(k), _mm256_castps_si256(take));
        }
        constexpr int order = _MM_SHUFFLE(3, 1, 2, 0);
        store_block(y + j, m, y_end, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(best), order)));
        at = _mm256_permute4x64_epi64(at, order);
        if constexpr (std::is_void_v<I>) {
            // Values only (inference): no positions kept.
        } else if constexpr (is_window_position_v<I>) {
            // The low byte of each 32-bit position, 8 bytes in all.
            const __m256i bytes = _mm256_shuffle_epi8(
                at, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12,
                                     -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
            const __m128i packed =
                _mm_unpacklo_epi32(_mm256_castsi256_si128(bytes), _mm256_extracti128_si256(bytes, 1));
            if (idx + j + 8 <= idx_end) {
                _mm_storel_epi64(reinterpret_cast<__m128i*>(idx + j), packed);
            } else {
                auto bits = static_cast<std::uint64_t>(_mm_cvtsi128_si64(packed));
                for (std::size_t l = 0; l < m; ++l, bits >>= 8) idx[j + l] = static_cast<std::uint8_t>(bits);
            }
        } else {
            // first + 2 (j + l) + (at >> 1) w + (at & 1), in 64 bits.
            const __m256i base = _mm256_set1_epi64x(first + 2 * static_cast<std::int64_t>(j));
            const __m256i width = _mm256_set1_epi64x(w), one = _mm256_set1_epi64x(1);
            for (std::size_t half = 0; half < 2; ++half) {
                const __m256i p = _mm256_cvtepu32_epi64(half == 0 ? _mm256_castsi256_si128(at)
                                                                  : _mm256_extracti128_si256(at, 1));
                const long long h = static_cast<long long>(8 * half);
                const __m256i flat =
                    _mm256_add_epi64(_mm256_add_epi64(base, _mm256_setr_epi64x(h, h + 2, h + 4, h + 6)),
                                     _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(p, 1), width),
                                                      _mm256_and_si256(p, one)));
                auto* out = reinterpret_cast<long long*>(idx + j + 4 * half);
                const std::size_t count = m > 4 * half ? m - 4 * half : 0;
                if (out + 4 <= reinterpret_cast<const long long*>(idx_end))
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), flat);
                else if (count > 0)
                    _mm256_maskstore_epi64(out, wide_lanes_below(count), flat);
            }
        }
    }
}
#endif

// With float on a processor with AVX2, 8 windows at a time (max_pool_2x2_row_avx2); double, or
// without AVX2, in two passes per stretch of a row, so that both vectorize: the maxima with the window
// position of each (0..3, row-major) as a 32-bit lane beside the value, then the positions as
// indices. The same outputs and indices either way.
template <class T, class I>
void max_pool_2x2(const T* xp, T* yp, I* ip, std::size_t planes, std::size_t H, std::size_t W, std::size_t Ho,
                  std::size_t Wo) {
    constexpr std::size_t stretch = 64;
    std::array<std::int32_t, stretch> which;
    const auto w = static_cast<std::int64_t>(W);
    [[maybe_unused]] const bool vector = std::is_same_v<T, float> && avx2_available();
    [[maybe_unused]] const T* y_end = yp + planes * Ho * Wo;
    [[maybe_unused]] const I* idx_end = ip + planes * Ho * Wo;
    for (std::size_t plane = 0; plane < planes; ++plane) {
        const T* in = xp + plane * H * W;
        for (std::size_t i = 0; i < Ho; ++i, yp += Wo, ip += Wo) {
            const auto top = static_cast<std::int64_t>(2 * i * W);
#if KATACHI_AVX2_CODE
            if constexpr (std::is_same_v<T, float>)
                if (vector) {
                    max_pool_2x2_row_avx2(in + 2 * i * W, in + (2 * i + 1) * W, yp, ip, Wo, top, w, y_end,
                                          idx_end);
                    continue;
                }
#endif
            for (std::size_t j0 = 0; j0 < Wo; j0 += stretch) {
                const std::size_t n = std::min(stretch, Wo - j0);
                const T* r0 = in + 2 * i * W + 2 * j0;
                const T* r1 = r0 + W;
                T* y = yp + j0;
                for (std::size_t j = 0; j < n; ++j) {
                    T best = r0[2 * j];
                    std::int32_t at = 0;
                    bool take = r0[2 * j + 1] > best || r0[2 * j + 1] != r0[2 * j + 1];
                    best = take ? r0[2 * j + 1] : best;
                    at = take ? 1 : at;
                    take = r1[2 * j] > best || r1[2 * j] != r1[2 * j];
                    best = take ? r1[2 * j] : best;
                    at = take ? 2 : at;
                    take = r1[2 * j + 1] > best || r1[2 * j + 1] != r1[2 * j + 1];
                    best = take ? r1[2 * j + 1] : best;
                    at = take ? 3 : at;
                    y[j] = best;
                    which[j] = at;
                }
                I* idx = ip + j0;
                const std::int64_t first = top + 2 * static_cast<std::int64_t>(j0);
                for (std::size_t j = 0; j < n; ++j) {
                    if constexpr (is_window_position_v<I>)
                        idx[j] = static_cast<std::uint8_t>(which[j]);
                    else
                        idx[j] =
                            first + 2 * static_cast<std::int64_t>(j) + (which[j] >> 1) * w + (which[j] & 1);
                }
            }
        }
    }
}

// The 2x2 path without indices (inference): the same four candidates in the same order with the
// same rule, so the values are those max_pool_2x2 writes, sign of zero and NaN included. Float on
// AVX2 runs max_pool_2x2's row kernel without its indices.
template <class T>
void max_pool_2x2_values(const T* xp, T* yp, std::size_t planes, std::size_t H, std::size_t W, std::size_t Ho,
                         std::size_t Wo) {
    const auto later = [](T best, T v) { return v > best || v != v ? v : best; };
    [[maybe_unused]] const bool vector = std::is_same_v<T, float> && avx2_available();
    [[maybe_unused]] const T* y_end = yp + planes * Ho * Wo;
    for (std::size_t plane = 0; plane < planes; ++plane) {
        const T* in = xp + plane * H * W;
        for (std::size_t i = 0; i < Ho; ++i, yp += Wo) {
            const T* r0 = in + 2 * i * W;
            const T* r1 = r0 + W;
#if KATACHI_AVX2_CODE
            if constexpr (std::is_same_v<T, float>)
                if (vector) {
                    max_pool_2x2_row_avx2<void>(r0, r1, yp, nullptr, Wo, 0, 0, y_end, nullptr);
                    continue;
                }
#endif
            for (std::size_t j = 0; j < Wo; ++j)
                yp[j] = later(later(later(r0[2 * j], r0[2 * j + 1]), r1[2 * j]), r1[2 * j + 1]);
        }
    }
}

#if KATACHI_AVX2_CODE
// One output row of max_unpool_2x2 below, 8 windows at a time, first into the input row r0, then
// into r1, so that a block stored whole only runs into rows still to be written; dx_end as
// store_block's end, at_end the end of the part's positions. `bad` collects positions above 3.
KATACHI_TARGET_AVX2 inline void max_unpool_2x2_row_avx2(const float* g, const std::uint8_t* at,
                                                        const float* mask, float* r0, float* r1,
                                                        std::size_t n, bool accumulate, const float* dx_end,
                                                        const std::uint8_t* at_end, bool& bad) {
    __m256i over = _mm256_setzero_si256();
    for (int r = 0; r < 2; ++r) {
        float* row = r == 0 ? r0 : r1;
        for (std::size_t j = 0; j < n; j += 8) {
            const std::size_t m = std::min<std::size_t>(8, n - j), low = std::min<std::size_t>(2 * m, 8),
                              high = 2 * m - low;
            __m256 grad = load_first(g + j, m);
            if (mask != nullptr)
                grad = _mm256_and_ps(grad,
                                     _mm256_cmp_ps(load_first(mask + j, m), _mm256_setzero_ps(), _CMP_GT_OQ));
            std::uint64_t bits = 0;
            if (at + j + 8 <= at_end) {
                std::memcpy(&bits, at + j, 8);  // past the row: the next row's positions, unused
                if (m < 8) bits &= (std::uint64_t{1} << (8 * m)) - 1;
            } else {
                for (std::size_t l = 0; l < m; ++l) bits |= std::uint64_t{at[j + l]} << (8 * l);
            }
            const __m256i p = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(bits)));
            if (r == 0) over = _mm256_or_si256(over, _mm256_cmpgt_epi32(p, _mm256_set1_epi32(3)));
            // The gradient where the maximum sat in this input row's two positions, zeros elsewhere,
            // interleaved back into the row.
            const __m256 q0 =
                _mm256_and_ps(grad, _mm256_castsi256_ps(_mm256_cmpeq_epi32(p, _mm256_set1_epi32(2 * r))));
            const __m256 q1 =
                _mm256_and_ps(grad, _mm256_castsi256_ps(_mm256_cmpeq_epi32(p, _mm256_set1_epi32(2 * r + 1))));
            const __m256 lo = _mm256_unpacklo_ps(q0, q1), hi = _mm256_unpackhi_ps(q0, q1);
            __m256 first = _mm256_permute2f128_ps(lo, hi, 0x20),
                   second = _mm256_permute2f128_ps(lo, hi, 0x31);
            if (accumulate) {
                first = _mm256_add_ps(first, load_block(row + 2 * j, low, dx_end));
                second = _mm256_add_ps(second, load_block(row + 2 * j + 8, high, dx_end));
            }
            store_block(row + 2 * j, low, dx_end, first);
            store_block(row + 2 * j + 8, high, dx_end, second);
        }
    }
    bad = bad || !_mm256_testz_si256(over, over);
}
#endif

// The backward of the 2x2 pooling from window positions: each window's four input gradients are
// written at once (dy where the maximum sat, masked by mask > 0 when mask is not null, zeros
// elsewhere) or with `accumulate` added; with H or W odd, the last row or column that no window
// covers is cleared (or left as it is when accumulating). Returns false if a position above 3 was
// found (those windows get no gradient).
template <class T>
bool max_unpool_2x2(const T* gp, const std::uint8_t* ap, const T* mp, T* dp, std::size_t planes,
                    std::size_t H, std::size_t W, std::size_t Ho, std::size_t Wo, bool accumulate) {
    bool bad = false;
    [[maybe_unused]] const bool vector = std::is_same_v<T, float> && avx2_available();
    [[maybe_unused]] const T* dx_end = dp + planes * H * W;
    [[maybe_unused]] const std::uint8_t* at_end = ap + planes * Ho * Wo;
    for (std::size_t plane = 0; plane < planes; ++plane) {
        T* dst = dp + plane * H * W;
        for (std::size_t i = 0; i < Ho; ++i, gp += Wo, ap += Wo) {
            T* r0 = dst + 2 * i * W;
            T* r1 = r0 + W;
            bool done = false;
#if KATACHI_AVX2_CODE
            if constexpr (std::is_same_v<T, float>)
                if (vector) {
                    max_unpool_2x2_row_avx2(gp, ap, mp, r0, r1, Wo, accumulate, dx_end, at_end, bad);
                    done = true;
                }
#endif
            for (std::size_t j = 0; !done && j < Wo; ++j) {
                const T g = mp == nullptr || mp[j] > T(0) ? gp[j] : T(0);
                const std::uint8_t at = ap[j];
                bad = bad || at > 3;
                T* cell[4] = {r0 + 2 * j, r0 + 2 * j + 1, r1 + 2 * j, r1 + 2 * j + 1};
                for (std::uint8_t k = 0; k < 4; ++k) {
                    const T v = at == k ? g : T(0);
                    *cell[k] = accumulate ? *cell[k] + v : v;
                }
            }
            if (!accumulate && W % 2 != 0) r0[W - 1] = r1[W - 1] = T(0);
            if (mp != nullptr) mp += Wo;
        }
        if (!accumulate && H % 2 != 0) std::fill(dst + (H - 1) * W, dst + H * W, T(0));
    }
    return !bad;
}

}  // namespace katachi::kernels::detail
