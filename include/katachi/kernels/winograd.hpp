// katachi/kernels/winograd.hpp: conv2d's 3x3 stride-1 case as Winograd's minimal filtering
// F(2x2, 3x3), forward and both gradients (conv2d.hpp chooses it: winograd_applies, winograd_pays).
//
// The output is cut into 2x2 tiles, ceil(Ho / 2) x ceil(Wo / 2) per sample; a last row or column of
// tiles that hangs over the edge is computed and its extra outputs dropped. The tile at (ti, tj)
// reads the 4x4 input patch d at (2 ti - pad_h, 2 tj - pad_w), zeros outside the image, and is
//     y = A^T [ (G g G^T) . (B^T d B) ] A       (. elementwise, 16 products instead of 36)
// with the transforms of Lavin and Gray:
//     B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//     A^T = [1 1 1 0; 0 1 -1 -1]
// Summed over input channels, each of the 16 entries xi of a tile becomes a matrix product over all
// tiles at once: M[xi] (tiles x O) = V[xi] (tiles x C) * U[xi]^T (C x O), with U = G w G^T per
// weight and V = B^T d B per input tile. So one convolution is 16 GEMMs with inner size C where the
// im2col lowering makes one with inner size 9 C: 2.25 times fewer multiplications, paid for by the
// transforms, which are additions.
//
//   winograd_convolve          the forward; also dx, which for stride 1 is the forward on dy with
//                              the weight turned by 180 degrees, its two channel axes swapped and
//                              padding 2 - pad (so pad <= 2)
//   winograd_weight_grad       dU[xi] = sum over tiles of dM[xi]^T V[xi] with dM = A dY A^T per
//                              output tile (dY zero where a tile hangs over), dw = G^T dU G; db
//                              rides along as the sums of dy
//
// The transforms work on channels-last copies of one sample at a time ([pixel][channel]), so each
// runs over the channels of a tile in long contiguous loops, vectorized whatever the image size;
// V and M are [16][tiles][channels]. The samples go in chunks of about winograd_tiles_target tiles,
// each chunk's V and M in scratch, and the chunks are spread over katachi's threads like the im2col
// lowering's (conv2d.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/conv_scratch.hpp"
#include "katachi/kernels/fma_block.hpp"
#include "katachi/kernels/gemm.hpp"
#include "katachi/parallel.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace katachi::kernels::detail {

// Whether a convolution can run on Winograd here: a 3x3 kernel with unit stride and dilation, no
// groups, and paddings of at most 2 (dx is then a forward with padding 2 - pad).
constexpr bool winograd_applies(std::size_t kernel_h, std::size_t kernel_w, std::size_t stride_h,
                                std::size_t stride_w, std::size_t dilation_h, std::size_t dilation_w,
                                std::size_t groups, std::size_t pad_h, std::size_t pad_w) {
    return kernel_h == 3 && kernel_w == 3 && stride_h == 1 && stride_w == 1 && dilation_h == 1 &&
           dilation_w == 1 && groups == 1 && pad_h <= 2 && pad_w <= 2;
}

// Tiles of one chunk of samples: enough for GEMMs that run at full speed, few enough that a
// chunk's V and M stay near the core. Measured on 32 -> 64, 14x14 (49 tiles a sample): chunks of
// 2, 4, 5 and 8 samples are within a few percent, 4 the best.
inline constexpr std::size_t winograd_tiles_target = 196;

// Tiles of a block of the fused forward (winograd_convolve_fused): two of fma_block's row blocks,
// so each U[xi] is read from memory once for both.
inline constexpr std::size_t winograd_fused_tiles = 2 * fma_block_rows;

// The sizes of one Winograd convolution: x[batch, channels, height, width] to
// y[batch, out_channels, out_height, out_width], 3x3 kernel, stride 1, the given padding.
struct winograd_shape {
    std::size_t batch = 0, channels = 0, height = 0, width = 0;
    std::size_t out_channels = 0, out_height = 0, out_width = 0;
    std::size_t pad_h = 0, pad_w = 0;

    constexpr std::size_t in_pixels() const { return height * width; }
    constexpr std::size_t out_pixels() const { return out_height * out_width; }
    constexpr std::size_t image_size() const { return channels * in_pixels(); }
    constexpr std::size_t out_image_size() const { return out_channels * out_pixels(); }
    constexpr std::size_t tile_rows() const { return (out_height + 1) / 2; }
    constexpr std::size_t tile_cols() const { return (out_width + 1) / 2; }
    constexpr std::size_t tiles() const { return tile_rows() * tile_cols(); }  // per sample
    constexpr std::size_t chunk_samples() const {
        if (batch == 0 || tiles() == 0) return 1;
        return std::clamp<std::size_t>(winograd_tiles_target / tiles(), 1, batch);
    }
    constexpr std::size_t chunk_tiles() const { return chunk_samples() * tiles(); }
    // Rows of V and M the scratch has room for: a chunk's, or the fused forward's block of tiles.
    constexpr std::size_t scratch_tiles() const { return std::max(chunk_tiles(), winograd_fused_tiles); }
    // Scratch of one chunk: V[16][tiles][channels], M[16][tiles][out_channels], and one sample's
    // input and output channels-last, each with one pixel more (zeros read outside the image, or
    // where outputs that hang over the edge are dropped).
    constexpr std::size_t part_size() const {
        return 16 * (channels + out_channels) * scratch_tiles() + (in_pixels() + 1) * channels +
               (out_pixels() + 1) * out_channels;
    }
    // U[16][out_channels][channels] (or dU), and a row of bias sums beside dU.
    constexpr std::size_t weights_size() const {
        return 16 * channels * out_channels + std::max(channels, out_channels);
    }
    // The input gradient's convolution: dy to dx, weight turned and transposed, padding 2 - pad.
    constexpr winograd_shape adjoint() const {
        return {batch, out_channels, out_height, out_width, channels, height, width, 2 - pad_h, 2 - pad_w};
    }
};

// Whether conv2d runs a convolution that winograd_applies to on Winograd: when the 16 GEMMs, whose
// inner size is C for y and dw and O for dx, have enough channels to pay for the transforms, and
// the batch has at least one chunk of tiles to pay for the weight transform each call makes once.
// Measured at batch 64 on one thread, y plus dx, dw and db against the im2col lowering: 32 -> 64 on
// 14x14 takes 0.7 of the time; 16 -> 16 and 16 -> 8 about 0.65 to 0.75 on 14x14 and 28x28, and
// 0.75 to 1.25 on 7x7, whose last row and column of tiles half hang over; with 8 input channels the
// forward alone is 1.3 to 1.8 times slower and the whole no faster. 32 -> 64 on 14x14 breaks even
// at batch 2 and gains from batch 4 (196 tiles) on.
inline constexpr std::size_t winograd_min_channels = 16, winograd_min_out_channels = 8;
constexpr bool winograd_pays(const winograd_shape& s) {
    return s.channels >= winograd_min_channels && s.out_channels >= winograd_min_out_channels &&
           s.batch * s.tiles() >= winograd_tiles_target;
}

// Elements of scratch winograd_convolve (for y and for dx) and winograd_weight_grad need in all.
constexpr std::size_t winograd_workspace_size(const winograd_shape& s) {
    return s.weights_size() + std::max(s.part_size(), s.adjoint().part_size());
}

// The scratch a convolution's part takes on a worker of the pool, and the caller's block of
// weight-gradient partial sums (kernels/conv_scratch.hpp): one buffer each per thread, shared by
// Winograd and the im2col lowering (conv2d.hpp), since a thread runs one part at a time.

// One part's chunk scratch, laid out as winograd_shape::part_size counts it.
template <class T>
struct winograd_buffers {
    T *v, *m, *in, *in_extra, *out, *out_extra;
    winograd_buffers(const winograd_shape& s, T* area) {
        v = area;
        m = v + 16 * s.channels * s.scratch_tiles();
        in = m + 16 * s.out_channels * s.scratch_tiles();
        in_extra = in + s.in_pixels() * s.channels;
        out = in_extra + s.channels;
        out_extra = out + s.out_pixels() * s.out_channels;
    }
};

// The scratch of `part`: the caller's for part 0, the worker's own (grown once, then reused) else.
template <class T>
T* winograd_part_area(const winograd_shape& s, T* ws, unsigned part) {
    return part == 0 ? ws + s.weights_size() : thread_scratch<T, conv_part_scratch_tag>(s.part_size());
}

// U[xi][r][k] = (G g G^T)[xi] for r < rows, k < cols (xi = 4 i + j for entry (i, j)), where g is the
// 3x3 kernel w[r][k] of w[rows, cols, 3, 3]; with `turned`, g is w[k][r] of w[cols, rows, 3, 3]
// turned by 180 degrees (the input gradient's weight). With `by_column` each U[xi] is stored
// transposed, U[xi][k][r], as the fused forward reads it.
template <class T>
void winograd_weights(std::size_t rows, std::size_t cols, const T* w, bool turned, bool by_column, T* u) {
    const T half = T(0.5);
    const std::size_t plane = rows * cols;
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t k = 0; k < cols; ++k) {
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
            T* out = u + (by_column ? k * rows + r : r * cols + k);
            for (std::size_t i = 0; i < 4; ++i) {  // (G g) G^T
                out[(4 * i + 0) * plane] = gg[i][0];
                out[(4 * i + 1) * plane] = (gg[i][0] + gg[i][1] + gg[i][2]) * half;
                out[(4 * i + 2) * plane] = (gg[i][0] - gg[i][1] + gg[i][2]) * half;
                out[(4 * i + 3) * plane] = gg[i][2];
            }
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

#if KATACHI_AVX2_CODE
// winograd_transpose below for float on AVX2, blocks of 8 x 8 for the rows and columns that fill
// them (rows8 x cols8); the caller does the rest.
KATACHI_TARGET_AVX2 inline void winograd_transpose_avx2(const float* a, std::size_t lda, std::size_t rows8,
                                                        std::size_t cols8, float* b, std::size_t ldb,
                                                        const float* shift, write mode) {
    for (std::size_t i0 = 0; i0 < rows8; i0 += 8)
        for (std::size_t j0 = 0; j0 < cols8; j0 += 8) {
            __m256 r[8], t[8];
            for (std::size_t k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(a + (i0 + k) * lda + j0);
            // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves swapped.
            for (std::size_t k = 0; k < 8; k += 2) {
                t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
                t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
            }
            for (std::size_t k = 0; k < 8; k += 4) {
                r[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
                r[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
                r[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
                r[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
            }
            for (std::size_t k = 0; k < 4; ++k) {
                t[k] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x20);
                t[k + 4] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x31);
            }
            for (std::size_t k = 0; k < 8; ++k) {  // t[k]: column j0 + k of the block
                float* out = b + (j0 + k) * ldb + i0;
                __m256 v = t[k];
                if (shift != nullptr) v = _mm256_add_ps(v, _mm256_set1_ps(shift[j0 + k]));
                if (mode == write::accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(out));
                _mm256_storeu_ps(out, v);
            }
        }
}
#endif

// winograd_transpose below without the AVX2 blocks.
template <class T>
void winograd_transpose_rest(const T* a, std::size_t lda, std::size_t rows, std::size_t cols, T* b,
                             std::size_t ldb, const T* shift, write mode) {
    std::size_t i0 = 0;
#if defined(__SSE2__)
    constexpr std::size_t block = 16 / sizeof(T);
    for (; i0 + block <= rows; i0 += block) {
        std::size_t j0 = 0;
        for (; j0 + block <= cols; j0 += block) {
            if constexpr (std::is_same_v<T, float>) {
                __m128 v[4] = {_mm_loadu_ps(a + i0 * lda + j0), _mm_loadu_ps(a + (i0 + 1) * lda + j0),
                               _mm_loadu_ps(a + (i0 + 2) * lda + j0), _mm_loadu_ps(a + (i0 + 3) * lda + j0)};
                _MM_TRANSPOSE4_PS(v[0], v[1], v[2], v[3]);
                for (std::size_t k = 0; k < 4; ++k) {
                    T* out = b + (j0 + k) * ldb + i0;
                    if (shift != nullptr) v[k] = _mm_add_ps(v[k], _mm_set1_ps(shift[j0 + k]));
                    if (mode == write::accumulate) v[k] = _mm_add_ps(v[k], _mm_loadu_ps(out));
                    _mm_storeu_ps(out, v[k]);
                }
            } else {
                const __m128d r0 = _mm_loadu_pd(a + i0 * lda + j0),
                              r1 = _mm_loadu_pd(a + (i0 + 1) * lda + j0);
                __m128d v[2] = {_mm_unpacklo_pd(r0, r1), _mm_unpackhi_pd(r0, r1)};
                for (std::size_t k = 0; k < 2; ++k) {
                    T* out = b + (j0 + k) * ldb + i0;
                    if (shift != nullptr) v[k] = _mm_add_pd(v[k], _mm_set1_pd(shift[j0 + k]));
                    if (mode == write::accumulate) v[k] = _mm_add_pd(v[k], _mm_loadu_pd(out));
                    _mm_storeu_pd(out, v[k]);
                }
            }
        }
        for (std::size_t i = i0; i < i0 + block; ++i)
            for (std::size_t j = j0; j < cols; ++j)
                store(b, j * ldb + i, a[i * lda + j] + (shift != nullptr ? shift[j] : T(0)), mode);
    }
#endif
    for (std::size_t i = i0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j)
            store(b, j * ldb + i, a[i * lda + j] + (shift != nullptr ? shift[j] : T(0)), mode);
}

// b[j * ldb + i] = a[i * lda + j] (+ shift[j] when shift is not null) for i < rows, j < cols, written
// or with write::accumulate added: a sample between its planes and its channels-last form. With
// SSE2 (every x86-64) blocks of 4 x 4 floats or 2 x 2 doubles are turned in registers, with AVX2
// blocks of 8 x 8 floats (winograd_transpose_avx2); one element at a time, the side of the copy that
// jumps between rows costs two to three times as long.
template <class T>
void winograd_transpose(const T* a, std::size_t lda, std::size_t rows, std::size_t cols, T* b,
                        std::size_t ldb, const T* shift, write mode) {
#if KATACHI_AVX2_CODE
    if constexpr (std::is_same_v<T, float>)
        if (avx2_available() && rows >= 8 && cols >= 8) {
            const std::size_t rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
            winograd_transpose_avx2(a, lda, rows8, cols8, b, ldb, shift, mode);
            // The columns right of the blocks, then the rows below them.
            if (cols8 < cols)
                winograd_transpose_rest(a + cols8, lda, rows8, cols - cols8, b + cols8 * ldb, ldb,
                                        shift == nullptr ? nullptr : shift + cols8, mode);
            if (rows8 < rows)
                winograd_transpose_rest(a + rows8 * lda, lda, rows - rows8, cols, b + rows8, ldb, shift,
                                        mode);
            return;
        }
#endif
    winograd_transpose_rest(a, lda, rows, cols, b, ldb, shift, mode);
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
inline void winograd_tile_input(const T* const* px, std::size_t c, T* d, std::size_t step) {
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
inline void winograd_tile_output(const T* m, std::size_t step, T* const* py, std::size_t o) {
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
inline void winograd_tile_output_grad(const T* const* py, std::size_t o, T* d, std::size_t step) {
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

// V[xi][t][c] = (B^T d B)[xi] for the tiles t of the `count` samples of `image` (nt = count * tiles
// rows per xi). Each sample is first copied channels-last to buf.in; buf.in_extra must hold zeros.
template <class T>
void winograd_input(const winograd_shape& s, const T* image, std::size_t count, T* v, std::size_t nt,
                    const winograd_buffers<T>& buf) {
    const std::size_t n = s.channels, tw = s.tile_cols(), step = nt * n;
    for (std::size_t j = 0; j < count; ++j) {
        winograd_transpose(image + j * s.image_size(), s.in_pixels(), n, s.in_pixels(), buf.in, n,
                           static_cast<const T*>(nullptr), write::overwrite);
        T* dst = v + j * s.tiles() * n;
        for (std::size_t ti = 0; ti < s.tile_rows(); ++ti)
            for (std::size_t tj = 0; tj < tw; ++tj) {
                const T* px[16];
                winograd_input_pixels(s, ti, tj, buf, px);
                T* d = dst + (ti * tw + tj) * n;
                winograd_channel_blocks<T>(n, [&](std::size_t c, auto lanes) {
                    winograd_tile_input<decltype(lanes)::value>(px, c, d + c, step);
                });
            }
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
// The fused forward of the `count` samples of `image` into `out`: ut holds U[xi] by column
// (winograd_weights with by_column), written or with write::accumulate added, + bias.
KATACHI_TARGET_AVX2 inline void winograd_convolve_fused(const winograd_shape& s, const float* image,
                                                        std::size_t count, const float* ut, const float* bias,
                                                        float* out, const winograd_buffers<float>& buf,
                                                        write mode) {
    constexpr std::size_t rows = winograd_fused_tiles, lanes = winograd_lanes<float>;
    const std::size_t ci = s.channels, co = s.out_channels, tw = s.tile_cols(), tiles = s.tiles();
    for (std::size_t j = 0; j < count; ++j) {
        winograd_transpose(image + j * s.image_size(), s.in_pixels(), ci, s.in_pixels(), buf.in, ci,
                           static_cast<const float*>(nullptr), write::overwrite);
        for (std::size_t t0 = 0; t0 < tiles; t0 += rows) {
            const std::size_t block = std::min(rows, tiles - t0);
            // V[xi][r][c] of the block's tiles r, then M[xi][r][o] = V[xi] U[xi]^T.
            for (std::size_t r = 0; r < block; ++r) {
                const float* px[16];
                winograd_input_pixels(s, (t0 + r) / tw, (t0 + r) % tw, buf, px);
                float* d = buf.v + r * ci;
                std::size_t c = 0;
                for (; c + lanes <= ci; c += lanes) winograd_tile_input<lanes>(px, c, d + c, rows * ci);
                for (; c < ci; ++c) winograd_tile_input<1>(px, c, d + c, rows * ci);
            }
            for (std::size_t xi = 0; xi < 16; ++xi)
                fma_product(block, co, ci, buf.v + xi * rows * ci, ci, 1, ut + xi * ci * co, co,
                            buf.m + xi * rows * co, co, false);
            for (std::size_t r = 0; r < block; ++r) {
                float* py[4];
                winograd_output_pixels((t0 + r) / tw, (t0 + r) % tw, s.out_height, s.out_width, co, buf.out,
                                       buf.out_extra, py);
                std::size_t o = 0;
                for (; o + lanes <= co; o += lanes)
                    winograd_tile_output<lanes>(buf.m + r * co + o, rows * co, py, o);
                for (; o < co; ++o) winograd_tile_output<1>(buf.m + r * co + o, rows * co, py, o);
            }
        }
        winograd_transpose(buf.out, co, s.out_pixels(), co, out + j * s.out_image_size(), s.out_pixels(),
                           bias, mode);
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

// dM[xi][t][o] = (A dY A^T)[xi] for the tiles t of the `count` samples of dy, where dY is the 2x2
// output tile, zero where it hangs over the edge. Each sample is first copied channels-last to
// buf.out; buf.out_extra must hold zeros. Adds each dy plane's sum onto sums[o].
template <class T>
void winograd_output_grad(const winograd_shape& s, const T* dy, std::size_t count, T* dm, std::size_t nt,
                          const winograd_buffers<T>& buf, T* sums) {
    const std::size_t n = s.out_channels, tw = s.tile_cols(), step = nt * n;
    for (std::size_t j = 0; j < count; ++j) {
        const T* src = dy + j * s.out_image_size();
        winograd_transpose(src, s.out_pixels(), n, s.out_pixels(), buf.out, n, static_cast<const T*>(nullptr),
                           write::overwrite);
        channel_sums_onto(src, n, s.out_pixels(), sums);
        T* dst = dm + j * s.tiles() * n;
        for (std::size_t ti = 0; ti < s.tile_rows(); ++ti)
            for (std::size_t tj = 0; tj < tw; ++tj) {
                const T* py[4];
                winograd_output_pixels(ti, tj, s.out_height, s.out_width, n, static_cast<const T*>(buf.out),
                                       static_cast<const T*>(buf.out_extra), py);
                T* d = dst + (ti * tw + tj) * n;
                winograd_channel_blocks<T>(n, [&](std::size_t o, auto lanes) {
                    winograd_tile_output_grad<decltype(lanes)::value>(py, o, d + o, step);
                });
            }
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
