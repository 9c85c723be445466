// katachi/kernels/max_pool2d.hpp: 2-d max pooling over NCHW batches, forward and backward.
//
// The forward also returns, for every output element, where its maximum came from: the flat index
// h * W + w inside its own input plane, as PyTorch's max_pool2d(return_indices=True) does. Padding
// counts as -inf. Within a window the first maximum in row-major order wins; a NaN counts as the
// maximum (it propagates). The backward scatters each output gradient to that index, adding where
// windows overlap.
//
// The input must be a batch, rank 4 [N, C, H, W]; a single image [C, H, W] needs a leading 1.
// A stride of {0, 0} means "equal to the kernel size" (PyTorch's default); a stride with one zero
// is an error (katachi::shape_arithmetic_error, rule zero_stride).
#pragma once

#include <katachi/error.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <katachi/kernels/common.hpp>
#include <katachi/kernels/pool_common.hpp>
#include <katachi/kernels/simd.hpp>
#include <katachi/parallel.hpp>
#include <katachi/shape.hpp>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace katachi::kernels {

struct max_pool2d_options {
    std::array<std::size_t, 2> kernel_size{2, 2};
    std::array<std::size_t, 2> stride{0, 0};  // {0, 0} means equal to kernel_size
    std::array<std::size_t, 2> padding{0, 0};
    std::array<std::size_t, 2> dilation{1, 1};
    bool ceil_mode = false;
};

namespace detail {

// The sizes of a pooling, signed, as the window loop computes with them.
struct pool_window_geometry {
    std::ptrdiff_t H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw;
};

// Any window: for each output, the maximum over the rows and columns of its dilated window that lie
// inside the input (padding counts as -inf), its flat index in the input plane beside it unless
// `ip` is null.
template <class T>
void max_pool_windows(const T* xp, T* yp, std::int64_t* ip, std::size_t planes,
                      const pool_window_geometry& g) {
    const auto [H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw] = g;
    for (std::size_t plane = 0; plane < planes; ++plane) {
        const T* in = xp + plane * static_cast<std::size_t>(H * W);
        for (std::ptrdiff_t i = 0; i < Ho; ++i) {
            // Rows of the window inside the input: h0, h0 + dh, ... below h1.
            std::ptrdiff_t h0 = i * sh - ph;
            const std::ptrdiff_t h1 = std::min(h0 + (kh - 1) * dh + 1, H);
            while (h0 < 0) h0 += dh;
            for (std::ptrdiff_t j = 0; j < Wo; ++j) {
                std::ptrdiff_t w0 = j * sw - pw;
                const std::ptrdiff_t w1 = std::min(w0 + (kw - 1) * dw + 1, W);
                while (w0 < 0) w0 += dw;
                T best = -std::numeric_limits<T>::infinity();
                std::ptrdiff_t best_at = h0 * W + w0;
                for (std::ptrdiff_t h = h0; h < h1; h += dh) {
                    const T* row = in + h * W;
                    for (std::ptrdiff_t w = w0; w < w1; w += dw) {
                        const T v = row[w];
                        if (v > best || std::isnan(v)) {
                            best = v;
                            best_at = h * W + w;
                        }
                    }
                }
                *yp++ = best;
                if (ip != nullptr) *ip++ = static_cast<std::int64_t>(best_at);
            }
        }
    }
}

// The common 2x2 window with stride 2, no padding, no dilation and floor mode: every window lies
// inside the input, so the four candidates are compared without bounds, in the window loop's
// order and with its rule (a later value wins when greater or NaN). Same outputs and indices.
constexpr bool is_plain_2x2(const max_pool2d_options& o, const std::array<std::size_t, 2>& stride) {
    return o.kernel_size == std::array<std::size_t, 2>{2, 2} && stride == std::array<std::size_t, 2>{2, 2} &&
           o.padding == std::array<std::size_t, 2>{0, 0} && o.dilation == std::array<std::size_t, 2>{1, 1} &&
           !o.ceil_mode;
}

// Where a 2x2 window's maximum came from, in the form the caller keeps: the flat index h * W + w in
// the input plane (std::int64_t, as PyTorch returns it), or the window position 2 r + s of the
// maximum at (2 i + r, 2 j + s) (std::uint8_t: an eighth of the memory, what the graph face keeps).
template <class I>
inline constexpr bool is_window_position_v = std::is_same_v<I, std::uint8_t>;

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
        if constexpr (is_window_position_v<I>) {
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
// same rule, so the values are those max_pool_2x2 writes, sign of zero and NaN included.
template <class T>
void max_pool_2x2_values(const T* xp, T* yp, std::size_t planes, std::size_t H, std::size_t W, std::size_t Ho,
                         std::size_t Wo) {
    const auto later = [](T best, T v) { return v > best || v != v ? v : best; };
    for (std::size_t plane = 0; plane < planes; ++plane) {
        const T* in = xp + plane * H * W;
        for (std::size_t i = 0; i < Ho; ++i, yp += Wo) {
            const T* r0 = in + 2 * i * W;
            const T* r1 = r0 + W;
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

}  // namespace detail

// [N, C, Ho, Wo] for an input of shape `x_shape` (any sequence of sizes, e.g. x.shape()).
namespace detail {

// The forward on pointers, for shapes known to fit: x [N, C, H, W] gives y [N, C, out_h, out_w] and,
// when ip is not null, indices (window positions when I is std::uint8_t, which only the plain 2x2
// pooling keeps). What max_pool2d_forward runs once it has checked its arguments, and what the graph
// face runs directly (its types are the check): nothing here can fail or allocate.
template <class T, class I>
void max_pool2d_run(const T* xp, T* yp, I* ip, const std::array<std::size_t, 4>& x, std::size_t out_h,
                    std::size_t out_w, const max_pool2d_options& opts) {
    constexpr bool positions = is_window_position_v<I>;
    const bool with_indices = ip != nullptr;
    const auto stride = pooling_stride(opts.stride, opts.kernel_size);
    const auto H = static_cast<std::ptrdiff_t>(x[2]);
    const auto W = static_cast<std::ptrdiff_t>(x[3]);
    const auto Ho = static_cast<std::ptrdiff_t>(out_h), Wo = static_cast<std::ptrdiff_t>(out_w);
    const auto sh = static_cast<std::ptrdiff_t>(stride[0]), sw = static_cast<std::ptrdiff_t>(stride[1]);
    const auto ph = static_cast<std::ptrdiff_t>(opts.padding[0]),
               pw = static_cast<std::ptrdiff_t>(opts.padding[1]);
    const auto dh = static_cast<std::ptrdiff_t>(opts.dilation[0]),
               dw = static_cast<std::ptrdiff_t>(opts.dilation[1]);
    const auto kh = static_cast<std::ptrdiff_t>(opts.kernel_size[0]);
    const auto kw = static_cast<std::ptrdiff_t>(opts.kernel_size[1]);
    const std::size_t planes = x[0] * x[1], plane_in = x[2] * x[3], plane_out = out_h * out_w;
    const bool plain = is_plain_2x2(opts, stride);
    // Planes are independent: each thread takes a contiguous run of them.
    katachi::detail::parallel_for(
        planes, katachi::detail::parallel_parts(planes, planes * plane_in),
        [&](std::size_t begin, std::size_t end, unsigned) {
            const T* from = xp + begin * plane_in;
            T* to = yp + begin * plane_out;
            const std::size_t count = end - begin;
            I* at = with_indices ? ip + begin * plane_out : nullptr;
            if (!plain) {
                if constexpr (!positions) max_pool_windows(from, to, at, count, {H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw});
            } else if (with_indices)
                max_pool_2x2(from, to, at, count, x[2], x[3], out_h, out_w);
            else
                max_pool_2x2_values(from, to, count, x[2], x[3], out_h, out_w);
        });
}

}  // namespace detail

template <class S>
std::array<std::size_t, 4> max_pool2d_output_shape(const S& x_shape, const max_pool2d_options& opts = {}) {
    const auto stride = detail::pooling_stride(opts.stride, opts.kernel_size);
    auto out = detail::pooling_input_dims("max_pool2d", x_shape);
    for (std::size_t k = 0; k < 2; ++k)
        out[2 + k] = pool_output_size("max_pool2d", {.input = out[2 + k],
                                                     .kernel = opts.kernel_size[k],
                                                     .stride = stride[k],
                                                     .padding = opts.padding[k],
                                                     .dilation = opts.dilation[k],
                                                     .ceil_mode = opts.ceil_mode});
    return out;
}

// y[n, c, i, j] = max over the dilated window at (i s0 - p0, j s1 - p1); indices as described above.
// `indices` may be `none` when no backward follows (inference): the values are the same and no
// index is computed. For the 2x2 pooling with stride 2 (no padding or dilation, floor mode)
// `indices` may hold std::uint8_t instead: window positions 2 r + s of the maximum at
// (2 i + r, 2 j + s), an eighth of the memory of the flat indices; another window with them throws
// std::invalid_argument.
template <class X, class Y, class I>
void max_pool2d_forward(const X& x, Y&& y, I&& indices, const max_pool2d_options& opts = {}) {
    using T = typename std::remove_cvref_t<X>::value_type;
    static_assert(std::is_floating_point_v<T>, "max_pool2d_forward: x must hold float or double");
    static_assert(std::is_same_v<typename std::remove_cvref_t<Y>::value_type, T>,
                  "max_pool2d_forward: y must hold the same scalar type as x");
    constexpr bool with_indices = !is_none_v<I>;
    using index_type = typename std::conditional_t<with_indices, std::remove_cvref_t<I>,
                                                   std::vector<std::int64_t>>::value_type;
    constexpr bool positions = detail::is_window_position_v<index_type>;
    static_assert(std::is_same_v<index_type, std::int64_t> || positions,
                  "max_pool2d_forward: indices must hold std::int64_t (flat indices) or std::uint8_t (window "
                  "positions of a 2x2 pooling)");
    constexpr const char* op = "max_pool2d_forward";
    detail::require_pooling_batch(op, "x", x);
    const auto out = max_pool2d_output_shape(x.shape(), opts);
    detail::require_shape(op, "y", y, {out[0], out[1], out[2], out[3]});
    if constexpr (with_indices)
        detail::require_shape(op, "indices", indices, {out[0], out[1], out[2], out[3]});

    const auto stride = detail::pooling_stride(opts.stride, opts.kernel_size);
    if (positions && !detail::is_plain_2x2(opts, stride))
        KATACHI_THROW(std::invalid_argument, 
            std::string(op) +
            ": window positions (std::uint8_t indices) are kept only by the 2x2 pooling "
            "with stride 2, no padding, no dilation and floor mode; this one has kernel " +
            std::to_string(opts.kernel_size[0]) + "x" + std::to_string(opts.kernel_size[1]) + ", stride " +
            std::to_string(stride[0]) + "x" + std::to_string(stride[1]) + ": use std::int64_t indices");
    index_type* ip = nullptr;
    if constexpr (with_indices) ip = detail::data_of(indices);
    detail::max_pool2d_run(detail::data_of(x), detail::data_of(y), ip,
                           {x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]}, out[2], out[3], opts);
}

// dx[n, c, indices[n, c, i, j]] += dy[n, c, i, j]; dx (shape of the forward's x) is cleared first
// unless mode is write::accumulate. Passing `none` for dx computes nothing. An index outside the
// input plane throws std::out_of_range, leaving dx partly written.
//
// With window positions (std::uint8_t, from the 2x2 pooling's forward) dx's planes must be those
// the 2x2 pooling of stride 2 reduces to dy's (H / 2 == Ho, W / 2 == Wo), else shape_mismatch; each
// window's four gradients are written at once. A position above 3 throws std::out_of_range.
//
// With `mask` (the shape of dy) a gradient passes only where mask > 0: given the pooled outputs of
// relu(pool(x)) as the mask, this is the backward of max pooling after a relu, relu's backward
// included (the graph face's absorbed_relu).
template <class DY, class I, class DX, class M = none_t>
void max_pool2d_backward(const DY& dy, const I& indices, DX&& dx, write mode = write::overwrite,
                         const M& mask = {}) {
    using T = typename std::remove_cvref_t<DY>::value_type;
    static_assert(std::is_floating_point_v<T>, "max_pool2d_backward: dy must hold float or double");
    using index_type = typename std::remove_cvref_t<I>::value_type;
    constexpr bool positions = detail::is_window_position_v<index_type>;
    static_assert(
        std::is_same_v<index_type, std::int64_t> || positions,
        "max_pool2d_backward: indices must hold std::int64_t (flat indices) or std::uint8_t (window "
        "positions of a 2x2 pooling)");
    constexpr const char* op = "max_pool2d_backward";
    detail::require_pooling_batch(op, "dy", dy);
    detail::require_same_shape(op, "indices", indices, "dy", dy);
    if constexpr (!is_none_v<DX>) {
        static_assert(std::is_same_v<typename std::remove_cvref_t<DX>::value_type, T>,
                      "max_pool2d_backward: dx must hold the same scalar type as dy");
        detail::require_pooling_batch(op, "dx", dx);
        detail::require_same_planes(op, dx, dy);
        const std::size_t plane_in = dx.shape()[2] * dx.shape()[3];
        const std::size_t plane_out = dy.shape()[2] * dy.shape()[3];
        const std::size_t planes = dy.shape()[0] * dy.shape()[1];
        const T* gp0 = detail::data_of(dy);
        const index_type* ip0 = detail::data_of(indices);
        T* dp = detail::data_of(dx);
        const T* mp0 = nullptr;
        if constexpr (!is_none_v<M>) {
            static_assert(std::is_same_v<typename std::remove_cvref_t<M>::value_type, T>,
                          "max_pool2d_backward: the mask must hold the same scalar type as dy");
            detail::require_same_shape(op, "mask", mask, "dy", dy);
            mp0 = detail::data_of(mask);
        }
        if constexpr (positions) {
            const std::size_t H = dx.shape()[2], W = dx.shape()[3], Ho = dy.shape()[2], Wo = dy.shape()[3];
            if (H / 2 != Ho || W / 2 != Wo)
                KATACHI_THROW(shape_mismatch, std::string(op) +
                                     ": window positions come from a 2x2 pooling of stride 2, "
                                     "which makes planes of " +
                                     std::to_string(H / 2) + "x" + std::to_string(W / 2) + " from dx's " +
                                     std::to_string(H) + "x" + std::to_string(W) + ", but dy has " +
                                     std::to_string(Ho) + "x" + std::to_string(Wo) + " (dx " +
                                     detail::shape_text(dx) + ", dy " + detail::shape_text(dy) + ")");
            const unsigned parts = katachi::detail::parallel_parts(planes, planes * plane_in);
            std::array<bool, katachi::detail::max_threads> ok;
            ok.fill(true);
            katachi::detail::parallel_for(
                planes, parts, [&](std::size_t begin, std::size_t end, unsigned part) {
                    const bool fine = detail::max_unpool_2x2(
                        gp0 + begin * plane_out, ip0 + begin * plane_out,
                        mp0 == nullptr ? nullptr : mp0 + begin * plane_out, dp + begin * plane_in,
                        end - begin, H, W, Ho, Wo, mode == write::accumulate);
                    if (!fine) ok[part] = false;
                });
            if (!std::all_of(ok.begin(), ok.end(), [](bool b) { return b; }))
                KATACHI_THROW(std::out_of_range, std::string(op) +
                                        ": a window position above 3 (a 2x2 window has 4) in " +
                                        "indices of shape " + detail::shape_text(indices));
        } else {
            // Planes are independent: each thread clears and fills a contiguous run of them, one plane
            // at a time, so the scatter finds the plane it cleared still in cache.
            katachi::detail::parallel_for(
                planes, katachi::detail::parallel_parts(planes, planes * plane_in),
                [&](std::size_t begin, std::size_t end, unsigned) {
                    const T* gp = gp0 + begin * plane_out;
                    const std::int64_t* ip = ip0 + begin * plane_out;
                    const T* mp = mp0 == nullptr ? nullptr : mp0 + begin * plane_out;
                    for (std::size_t plane = begin; plane < end; ++plane, gp += plane_out, ip += plane_out) {
                        T* dst = dp + plane * plane_in;
                        if (mode == write::overwrite) std::fill(dst, dst + plane_in, T(0));
                        for (std::size_t k = 0; k < plane_out; ++k) {
                            const std::int64_t at = ip[k];
                            if (at < 0 || static_cast<std::size_t>(at) >= plane_in)
                                KATACHI_THROW(std::out_of_range, 
                                    std::string(op) + ": index " + std::to_string(at) +
                                    " lies outside the input plane of " + std::to_string(plane_in) +
                                    " elements (dx has shape " + detail::shape_text(dx) + ")");
                            if (mp == nullptr || mp[k] > T(0)) dst[at] += gp[k];
                        }
                        if (mp != nullptr) mp += plane_out;
                    }
                });
        }
    }
}

}  // namespace katachi::kernels
