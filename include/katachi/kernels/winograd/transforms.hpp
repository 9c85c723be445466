// katachi/kernels/winograd/transforms.hpp: the transforms of Winograd's F(2x2, 3x3): the weight's
// U = G g G^T and its gradient dw = G^T dU G, the input tile's V = B^T d B, the output tile's
// y = A^T M A and the output gradient's dM = A dY A^T, each over a block of channels at a time
// (winograd_channel_blocks), and the passes that run them over every tile of a chunk of samples
// (winograd_input, winograd_output).
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/simd.hpp"
#include "katachi/kernels/winograd/shape.hpp"
#include "katachi/kernels/winograd/transpose.hpp"

namespace katachi::kernels::detail {

// Kernels the weight transform takes at a time (winograd_weights).
inline constexpr std::size_t winograd_weight_block = 64;

#if KATACHI_AVX2_CODE
// winograd_weights below by column in float on AVX-512F: 16 kernels (r .. r + 15, one k) at a time,
// their taps gathered into vectors, so that each U[xi][k] row takes one store of 16 (a masked one
// for the last r). The same sums in the same order as the loop below, so the same bits.
KATACHI_TARGET_AVX512 inline void winograd_weights_by_column_avx512(std::size_t rows, std::size_t cols,
                                                                    const float* w, bool turned, float* u,
                                                                    std::size_t r_first, std::size_t r_last) {
    const std::size_t plane = rows * cols;
    // Kernel (r, k) starts at w + (r * cols + k) * 9, or turned at w + (k * rows + r) * 9.
    const std::size_t r_stride = turned ? 9 : cols * 9;
    const __m512i lane =
        _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                           _mm512_set1_epi32(static_cast<int>(r_stride)));
    const __m512 half = _mm512_set1_ps(0.5f);
    for (std::size_t k = 0; k < cols; ++k)
        for (std::size_t r = r_first; r < r_last; r += 16) {
            const std::size_t n = std::min<std::size_t>(16, r_last - r);
            const __mmask16 keep = n == 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
            const float* base = turned ? w + (k * rows + r) * 9 : w + (r * cols + k) * 9;
            __m512 g[3][3];
            for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) {
                    const int tap = turned ? (2 - i) * 3 + (2 - j) : i * 3 + j;
                    g[i][j] = _mm512_mask_i32gather_ps(
                        _mm512_setzero_ps(), keep, _mm512_add_epi32(lane, _mm512_set1_epi32(tap)), base, 4);
                }
            __m512 gg[4][3];  // G g
            for (int j = 0; j < 3; ++j) {
                gg[0][j] = g[0][j];
                gg[1][j] = _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(g[0][j], g[1][j]), g[2][j]), half);
                gg[2][j] = _mm512_mul_ps(_mm512_add_ps(_mm512_sub_ps(g[0][j], g[1][j]), g[2][j]), half);
                gg[3][j] = g[2][j];
            }
            float* out = u + k * rows + r;
            for (std::size_t i = 0; i < 4; ++i) {  // (G g) G^T
                const __m512 a = gg[i][0], b = gg[i][1], c = gg[i][2];
                _mm512_mask_storeu_ps(out + (4 * i + 0) * plane, keep, a);
                _mm512_mask_storeu_ps(out + (4 * i + 1) * plane, keep,
                                      _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(a, b), c), half));
                _mm512_mask_storeu_ps(out + (4 * i + 2) * plane, keep,
                                      _mm512_mul_ps(_mm512_add_ps(_mm512_sub_ps(a, b), c), half));
                _mm512_mask_storeu_ps(out + (4 * i + 3) * plane, keep, c);
            }
        }
}
#endif

// U[xi][r][k] = (G g G^T)[xi] for r < rows, k < cols (xi = 4 i + j for entry (i, j)), where g is the
// 3x3 kernel w[r][k] of w[rows, cols, 3, 3]; with `turned`, g is w[k][r] of w[cols, rows, 3, 3]
// turned by 180 degrees (the input gradient's weight). With `by_column` each U[xi] is stored
// transposed, U[xi][k][r], as the fused forward reads it. Only the rows r in [r_first, r_last) when
// given (a part of the output channels, for a thread that runs those channels alone).
//
// The 16 planes lie a multiple of 4 KiB apart, so writing one kernel's 16 values at a time sent all
// its stores to one set of the first-level cache, and the pass took 80 us for 64 x 32 kernels. It
// takes winograd_weight_block kernels at a time instead into a local array, and copies each plane's
// run into place: one stream at a time (about 12 us).
template <class T>
void winograd_weights(std::size_t rows, std::size_t cols, const T* w, bool turned, bool by_column, T* u,
                      std::size_t r_first = 0, std::size_t r_last = std::size_t(-1)) {
    r_last = std::min(r_last, rows);
#if KATACHI_AVX2_CODE
    if constexpr (std::is_same_v<T, float>)
        if (by_column && avx512_available()) {
            winograd_weights_by_column_avx512(rows, cols, w, turned, u, r_first, r_last);
            return;
        }
#endif
    const T half = T(0.5);
    const std::size_t plane = rows * cols;
    // The destination of kernel (r, k) is outer * inner_count + inner in each plane; the block runs
    // over inner in [inner_first, inner_last).
    const std::size_t inner_count = by_column ? rows : cols;
    const std::size_t outer_first = by_column ? 0 : r_first, outer_last = by_column ? cols : r_last;
    const std::size_t inner_first = by_column ? r_first : 0, inner_last = by_column ? r_last : cols;
    T t[16][winograd_weight_block];
    for (std::size_t outer = outer_first; outer < outer_last; ++outer)
        for (std::size_t q0 = inner_first; q0 < inner_last; q0 += winograd_weight_block) {
            const std::size_t len = std::min(winograd_weight_block, inner_last - q0);
            for (std::size_t q = 0; q < len; ++q) {
                const std::size_t r = by_column ? q0 + q : outer, k = by_column ? outer : q0 + q;
                const T* src = turned ? w + (k * rows + r) * 9 : w + (r * cols + k) * 9;
                T g[3][3];
                for (std::size_t i = 0; i < 3; ++i)
                    for (std::size_t j = 0; j < 3; ++j)
                        g[i][j] = turned ? src[(2 - i) * 3 + (2 - j)] : src[i * 3 + j];
                T gg[4][3];  // G g
                for (std::size_t j = 0; j < 3; ++j) {
                    gg[0][j] = g[0][j];
                    gg[1][j] = (g[0][j] + g[1][j] + g[2][j]) * half;
                    gg[2][j] = (g[0][j] - g[1][j] + g[2][j]) * half;
                    gg[3][j] = g[2][j];
                }
                for (std::size_t i = 0; i < 4; ++i) {  // (G g) G^T
                    t[4 * i + 0][q] = gg[i][0];
                    t[4 * i + 1][q] = (gg[i][0] + gg[i][1] + gg[i][2]) * half;
                    t[4 * i + 2][q] = (gg[i][0] - gg[i][1] + gg[i][2]) * half;
                    t[4 * i + 3][q] = gg[i][2];
                }
            }
            for (std::size_t xi = 0; xi < 16; ++xi)
                std::copy(t[xi], t[xi] + len, u + xi * plane + outer * inner_count + q0);
        }
}

// dw[o, c] = G^T dU[o, c] G for every pair of dU[16][out_channels][channels]: written, or with
// write::accumulate added.
template <class T>
void winograd_weights_grad(const winograd_shape& s, const T* du, T* dw, write mode) {
    const T half = T(0.5);
    const std::size_t plane = s.out_channels * s.channels;
    for (std::size_t o = 0; o < s.out_channels; ++o)
        for (std::size_t c = 0; c < s.channels; ++c) {
            const T* src = du + o * s.channels + c;
            T g[4][3];  // dU G
            for (std::size_t i = 0; i < 4; ++i) {
                const T u0 = src[(4 * i) * plane], u1 = src[(4 * i + 1) * plane],
                        u2 = src[(4 * i + 2) * plane], u3 = src[(4 * i + 3) * plane];
                g[i][0] = u0 + (u1 + u2) * half;
                g[i][1] = (u1 - u2) * half;
                g[i][2] = (u1 + u2) * half + u3;
            }
            T* out = dw + (o * s.channels + c) * 9;
            for (std::size_t k = 0; k < 3; ++k) {  // G^T (dU G)
                store(out, k, g[0][k] + (g[1][k] + g[2][k]) * half, mode);
                store(out, 3 + k, (g[1][k] - g[2][k]) * half, mode);
                store(out, 6 + k, (g[1][k] + g[2][k]) * half + g[3][k], mode);
            }
        }
}

// The tile transforms take L channels at a time (pixels channels-last, each pixel's channels side
// by side) through local arrays, which nothing else can alias, so every loop over the L channels
// becomes vector instructions; winograd_channel_blocks runs them over all channels.
template <class T>
inline constexpr std::size_t winograd_lanes = 32 / sizeof(T);

template <class T, class Tile>
inline void winograd_channel_blocks(std::size_t n, Tile&& tile) {
    constexpr std::size_t lanes = winograd_lanes<T>;
    std::size_t c = 0;
    for (; c + lanes <= n; c += lanes) tile(c, std::integral_constant<std::size_t, lanes>{});
    for (; c < n; ++c) tile(c, std::integral_constant<std::size_t, 1>{});
}

// V for channels [c, c + L) of one tile: px[4 r + s] is pixel (r, s) of its 4x4 patch;
// d[xi * step + l] = (B^T d B)[xi] of channel c + l.
template <std::size_t L, class T>
[[gnu::always_inline]] inline void winograd_tile_input(const T* const* px, std::size_t c, T* d,
                                                       std::size_t step) {
    T e[4][4][L];  // d B, row by row: (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
    for (std::size_t r = 0; r < 4; ++r) {
        const T* x0 = px[4 * r] + c;
        const T* x1 = px[4 * r + 1] + c;
        const T* x2 = px[4 * r + 2] + c;
        const T* x3 = px[4 * r + 3] + c;
        for (std::size_t l = 0; l < L; ++l) {
            e[r][0][l] = x0[l] - x2[l];
            e[r][1][l] = x1[l] + x2[l];
            e[r][2][l] = x2[l] - x1[l];
            e[r][3][l] = x1[l] - x3[l];
        }
    }
    for (std::size_t j = 0; j < 4; ++j) {  // B^T (d B): the same combinations of the rows
        T* d0 = d + j * step;
        T* d1 = d + (4 + j) * step;
        T* d2 = d + (8 + j) * step;
        T* d3 = d + (12 + j) * step;
        for (std::size_t l = 0; l < L; ++l) d0[l] = e[0][j][l] - e[2][j][l];
        for (std::size_t l = 0; l < L; ++l) d1[l] = e[1][j][l] + e[2][j][l];
        for (std::size_t l = 0; l < L; ++l) d2[l] = e[2][j][l] - e[1][j][l];
        for (std::size_t l = 0; l < L; ++l) d3[l] = e[1][j][l] - e[3][j][l];
    }
}

// y for channels [o, o + L) of one output tile: m[xi * step + l] holds M[xi] of channel o + l; the
// 2x2 result A^T M A goes to the pixels py[0], py[1] (top row) and py[2], py[3].
template <std::size_t L, class T>
[[gnu::always_inline]] inline void winograd_tile_output(const T* m, std::size_t step, T* const* py,
                                                        std::size_t o) {
    T a[4][L], b[4][L];  // A^T M: rows m0 + m1 + m2 and m1 - m2 - m3, per column k
    for (std::size_t k = 0; k < 4; ++k) {
        const T* m0 = m + k * step;
        const T* m1 = m + (4 + k) * step;
        const T* m2 = m + (8 + k) * step;
        const T* m3 = m + (12 + k) * step;
        for (std::size_t l = 0; l < L; ++l) {
            a[k][l] = m0[l] + m1[l] + m2[l];
            b[k][l] = m1[l] - m2[l] - m3[l];
        }
    }
    T* y00 = py[0] + o;  // (A^T M) A: the same on the columns
    T* y01 = py[1] + o;
    T* y10 = py[2] + o;
    T* y11 = py[3] + o;
    for (std::size_t l = 0; l < L; ++l) y00[l] = a[0][l] + a[1][l] + a[2][l];
    for (std::size_t l = 0; l < L; ++l) y01[l] = a[1][l] - a[2][l] - a[3][l];
    for (std::size_t l = 0; l < L; ++l) y10[l] = b[0][l] + b[1][l] + b[2][l];
    for (std::size_t l = 0; l < L; ++l) y11[l] = b[1][l] - b[2][l] - b[3][l];
}

// dM for channels [o, o + L) of one output tile: py[0], py[1], py[2], py[3] are its 2x2 cotangent
// pixels (top row first); d[xi * step + l] = (A dY A^T)[xi] of channel o + l.
template <std::size_t L, class T>
[[gnu::always_inline]] inline void winograd_tile_output_grad(const T* const* py, std::size_t o, T* d,
                                                             std::size_t step) {
    T r[4][2][L];  // A dY: rows (y0, y0 + y1, y0 - y1, -y1) of the tile's two rows
    const T* p00 = py[0] + o;
    const T* p01 = py[1] + o;
    const T* p10 = py[2] + o;
    const T* p11 = py[3] + o;
    for (std::size_t l = 0; l < L; ++l) {
        r[0][0][l] = p00[l];
        r[0][1][l] = p01[l];
        r[1][0][l] = p00[l] + p10[l];
        r[1][1][l] = p01[l] + p11[l];
        r[2][0][l] = p00[l] - p10[l];
        r[2][1][l] = p01[l] - p11[l];
        r[3][0][l] = -p10[l];
        r[3][1][l] = -p11[l];
    }
    for (std::size_t i = 0; i < 4; ++i) {  // (A dY) A^T: the same on each row's two entries
        T* d0 = d + (4 * i) * step;
        T* d1 = d + (4 * i + 1) * step;
        T* d2 = d + (4 * i + 2) * step;
        T* d3 = d + (4 * i + 3) * step;
        for (std::size_t l = 0; l < L; ++l) d0[l] = r[i][0][l];
        for (std::size_t l = 0; l < L; ++l) d1[l] = r[i][0][l] + r[i][1][l];
        for (std::size_t l = 0; l < L; ++l) d2[l] = r[i][0][l] - r[i][1][l];
        for (std::size_t l = 0; l < L; ++l) d3[l] = -r[i][1][l];
    }
}

// The pixels of a channels-last plane (rows x cols pixels of n channels at `plane`) that the 2x2
// tile (ti, tj) covers, or `outside` where it hangs over the edge.
template <class P>
inline void winograd_output_pixels(std::size_t ti, std::size_t tj, std::size_t rows, std::size_t cols,
                                   std::size_t n, P* plane, P* outside, P* (&px)[4]) {
    for (std::size_t r = 0; r < 2; ++r)
        for (std::size_t s = 0; s < 2; ++s) {
            const std::size_t i = 2 * ti + r, j = 2 * tj + s;
            px[2 * r + s] = i < rows && j < cols ? plane + (i * cols + j) * n : outside;
        }
}

// The pixels of the 4x4 input patch of tile (ti, tj), from (2 ti - pad_h, 2 tj - pad_w), in the
// sample copied channels-last to buf.in; buf.in_extra (zeros) outside the image.
template <class T>
inline void winograd_input_pixels(const winograd_shape& s, std::size_t ti, std::size_t tj,
                                  const winograd_buffers<T>& buf, const T* (&px)[16]) {
    for (std::size_t r = 0; r < 4; ++r) {
        const std::size_t i = 2 * ti + r;  // padded row
        const bool row_in = i >= s.pad_h && i - s.pad_h < s.height;
        for (std::size_t c = 0; c < 4; ++c) {
            const std::size_t q = 2 * tj + c;
            px[4 * r + c] = row_in && q >= s.pad_w && q - s.pad_w < s.width
                                ? buf.in + ((i - s.pad_h) * s.width + q - s.pad_w) * s.channels
                                : buf.in_extra;
        }
    }
}

// The tile transforms over all channels of one tile, L channels at a time and the rest one by one:
// loops written out (not winograd_channel_blocks' lambda), so that inlined into a function compiled
// for AVX2 they are compiled for it too.
template <class T>
[[gnu::always_inline]] inline void winograd_tile_input_all(const T* const* px, std::size_t n, T* d,
                                                           std::size_t step) {
    constexpr std::size_t lanes = winograd_lanes<T>;
    std::size_t c = 0;
    for (; c + lanes <= n; c += lanes) winograd_tile_input<lanes>(px, c, d + c, step);
    for (; c < n; ++c) winograd_tile_input<1>(px, c, d + c, step);
}

// One sample of winograd_input below, already channels-last in buf.in: its tiles' V rows at d.
template <class T>
[[gnu::always_inline]] inline void winograd_input_tiles(const winograd_shape& s, T* d, std::size_t step,
                                                        const winograd_buffers<T>& buf) {
    const std::size_t n = s.channels, tw = s.tile_cols();
    for (std::size_t ti = 0; ti < s.tile_rows(); ++ti)
        for (std::size_t tj = 0; tj < tw; ++tj) {
            const T* px[16];
            winograd_input_pixels(s, ti, tj, buf, px);
            winograd_tile_input_all<T>(px, n, d + (ti * tw + tj) * n, step);
        }
}

#if KATACHI_AVX2_CODE
// winograd_input_tiles compiled for AVX2 (eight floats a vector instead of SSE2's four).
KATACHI_TARGET_AVX2 inline void winograd_input_tiles_avx2(const winograd_shape& s, float* d, std::size_t step,
                                                          const winograd_buffers<float>& buf) {
    winograd_input_tiles<float>(s, d, step, buf);
}
#endif

// V[xi][t][c] = (B^T d B)[xi] for the tiles t of the `count` samples of `image` (nt = count * tiles
// rows per xi). Each sample is first copied channels-last to buf.in; buf.in_extra must hold zeros.
template <class T>
void winograd_input(const winograd_shape& s, const T* image, std::size_t count, T* v, std::size_t nt,
                    const winograd_buffers<T>& buf) {
    const std::size_t n = s.channels, step = nt * n;
    for (std::size_t j = 0; j < count; ++j) {
        winograd_transpose(image + j * s.image_size(), s.in_pixels(), n, s.in_pixels(), buf.in, n,
                           static_cast<const T*>(nullptr), write::overwrite);
        T* dst = v + j * s.tiles() * n;
#if KATACHI_AVX2_CODE
        if constexpr (std::is_same_v<T, float>)
            if (avx2_available()) {
                winograd_input_tiles_avx2(s, dst, step, buf);
                continue;
            }
#endif
        winograd_input_tiles<T>(s, dst, step, buf);
    }
}

// y = A^T M A (+ bias) per tile for the `count` samples of `out`, written or with write::accumulate
// added. Each sample is assembled channels-last in buf.out (outputs that hang over the edge go to
// buf.out_extra), then copied to its planes.
template <class T>
void winograd_output(const winograd_shape& s, const T* m, std::size_t nt, std::size_t count, const T* bias,
                     T* out, const winograd_buffers<T>& buf, write mode) {
    const std::size_t n = s.out_channels, tw = s.tile_cols(), step = nt * n;
    for (std::size_t j = 0; j < count; ++j) {
        const T* src = m + j * s.tiles() * n;
        for (std::size_t ti = 0; ti < s.tile_rows(); ++ti)
            for (std::size_t tj = 0; tj < tw; ++tj) {
                T* py[4];
                winograd_output_pixels(ti, tj, s.out_height, s.out_width, n, buf.out, buf.out_extra, py);
                const T* mt = src + (ti * tw + tj) * n;
                winograd_channel_blocks<T>(n, [&](std::size_t o, auto lanes) {
                    winograd_tile_output<decltype(lanes)::value>(mt + o, step, py, o);
                });
            }
        winograd_transpose(buf.out, n, s.out_pixels(), n, out + j * s.out_image_size(), s.out_pixels(), bias,
                           mode);
    }
}

}  // namespace katachi::kernels::detail
