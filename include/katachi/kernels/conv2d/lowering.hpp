// katachi/kernels/conv2d/lowering.hpp: the im2col lowering of the convolution kernels (conv2d,
// conv1d, conv_transpose2d): the three lowered products lowered_convolve, lowered_convolve_adjoint
// and lowered_weight_grad (described in kernels/conv2d.hpp), the scratch of one chunk of samples,
// how the chunks are spread over katachi's threads, and the bias gradient's channel_sums.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/conv_scratch.hpp"
#include "katachi/kernels/fma_block.hpp"
#include "katachi/kernels/gemm.hpp"
#include "katachi/kernels/im2col.hpp"
#include "katachi/parallel.hpp"

namespace katachi::kernels::detail {

// Writes (or with write::accumulate adds) b[channel] over every position of each channel.
template <class T>
void put_channels(T* out, const T* b, std::size_t channels, std::size_t positions, write mode) {
    for (std::size_t c = 0; c < channels; ++c) {
        T* row = out + c * positions;
        if (mode == write::accumulate)
            for (std::size_t i = 0; i < positions; ++i) row[i] += b[c];
        else
            std::fill(row, row + positions, b[c]);
    }
}

// The scratch of one chunk of `count` samples and one group: the side-by-side im2col matrix
// [patch + 1, count * positions] (the extra row is for lowered_weight_grad's row of ones), for
// count > 1 the group's columns gathered as [group_out_channels, count * positions], and the
// weight and bias gradients side by side as [out_channels, patch + 1].
template <class T>
struct chunk_buffers {
    T* col = nullptr;
    T* gathered = nullptr;
    T* weight_and_bias = nullptr;
    chunk_buffers(const conv_geometry& g, T* ws) {
        if (ws == nullptr) return;
        const std::size_t width = g.samples_per_gemm() * g.positions();
        col = ws;
        gathered = col + (g.patch() + 1) * width;
        weight_and_bias = gathered + (g.samples_per_gemm() > 1 ? g.group_out_channels() * width : 0);
    }
};

// Gathers the group's rows of `count` samples of columns[batch, out_channels, positions] side by side.
template <class T>
void gather_columns(const conv_geometry& g, const T* columns, std::size_t first, std::size_t count,
                    std::size_t grp, T* out) {
    const std::size_t og = g.group_out_channels(), p = g.positions(), ld = count * p;
    for (std::size_t j = 0; j < count; ++j) {
        const T* src = columns + (first + j) * g.columns_size() + grp * og * p;
        for (std::size_t o = 0; o < og; ++o) std::copy(src + o * p, src + (o + 1) * p, out + o * ld + j * p);
    }
}

// The chunks of samples (samples_per_gemm() each) of a batch, spread over katachi's threads: part 0
// runs on the caller with the caller's workspace `ws`, every other part on a worker with that
// worker's own scratch of the same layout (the buffer Winograd's parts use too, winograd.hpp).
using im2col_scratch_tag = conv_part_scratch_tag;
using weight_partials_tag = conv_partials_tag;

template <class T>
T* part_workspace(const conv_geometry& g, T* ws, unsigned part) {
    return part == 0 || ws == nullptr ? ws : thread_scratch<T, im2col_scratch_tag>(g.workspace_size());
}

inline std::size_t chunk_count(const conv_geometry& g) {
    const std::size_t chunk = g.samples_per_gemm();
    return (g.batch + chunk - 1) / chunk;
}

// Whether lowered_convolve's products run on fma_block (fma_block.hpp) instead of OpenBLAS: in
// float on AVX2, for patches of at most lowered_fma_patch elements (a first convolution on one to
// three input channels: inner size 9 to 27, where OpenBLAS's packing costs more than its products).
// Each sample's product then goes straight into its output. (Larger patches gain nothing: LeNet's
// second convolution at batch 1, 64 x 196 x 288, runs as fast on OpenBLAS.)
inline constexpr std::size_t lowered_fma_patch = 32;
template <class T>
bool lowered_on_fma_block(const conv_geometry& g) {
    return std::is_same_v<T, float> && fma_block_available() && !g.is_pointwise() &&
           g.patch() <= lowered_fma_patch;
}

// columns_n = w * im2col(image_n) (+ bias) for every sample and group. `bias` may be null. With
// write::accumulate the result is added onto `columns`.
template <class T>
void lowered_convolve(const conv_geometry& g, const T* image, const T* w, const T* bias, T* columns, T* ws,
                      write mode) {
    const std::size_t og = g.group_out_channels(), k = g.patch(), p = g.positions(),
                      chunk = g.samples_per_gemm(), chunks = chunk_count(g);
    [[maybe_unused]] const bool on_fma_block = lowered_on_fma_block<T>(g);
    parallel_for(chunks, parallel_parts(chunks), [&](std::size_t c0, std::size_t c1, unsigned part) {
        const chunk_buffers<T> buf(g, part_workspace(g, ws, part));
        for (std::size_t first = c0 * chunk; first < std::min(g.batch, c1 * chunk); first += chunk) {
            const std::size_t count = std::min(chunk, g.batch - first), ld = count * p;
            T* out_first = columns + first * g.columns_size();
#if KATACHI_AVX2_CODE
            if constexpr (std::is_same_v<T, float>)
                if (on_fma_block) {
                    for (std::size_t j = 0; j < count; ++j) {
                        T* out = out_first + j * g.columns_size();
                        if (bias != nullptr) put_channels(out, bias, g.out_channels, p, mode);
                        const bool onto = bias != nullptr || mode == write::accumulate;
                        for (std::size_t grp = 0; grp < g.groups; ++grp) {
                            im2col(g, image + (first + j) * g.image_size() + grp * g.group_image_size(),
                                   buf.col, p);
                            fma_product(og, p, k, w + grp * og * k, k, 1, buf.col, p, out + grp * og * p, p,
                                        onto);
                        }
                    }
                    continue;
                }
#endif
            // One sample: the GEMM writes into the output itself, onto the bias when there is one.
            if (count == 1 && bias != nullptr) put_channels(out_first, bias, g.out_channels, p, mode);
            const T beta = bias != nullptr || mode == write::accumulate ? T(1) : T(0);
            for (std::size_t grp = 0; grp < g.groups; ++grp) {
                const T* image_g = image + first * g.image_size() + grp * g.group_image_size();
                const T* col = image_g;
                if (!g.is_pointwise()) {
                    for (std::size_t j = 0; j < count; ++j)
                        im2col(g, image_g + j * g.image_size(), buf.col + j * p, ld);
                    col = buf.col;
                }
                const T* w_g = w + grp * og * k;
                if (count == 1) {
                    gemm(false, false, og, p, k, T(1), w_g, col, beta, out_first + grp * og * p);
                    continue;
                }
                // Several samples: one GEMM into scratch, then each sample's rows go to their place.
                gemm(false, false, og, ld, k, T(1), w_g, col, T(0), buf.gathered);
                for (std::size_t j = 0; j < count; ++j)
                    for (std::size_t o = 0; o < og; ++o) {
                        const T* src = buf.gathered + o * ld + j * p;
                        T* dst = out_first + j * g.columns_size() + (grp * og + o) * p;
                        const T b = bias != nullptr ? bias[grp * og + o] : T(0);
                        if (mode == write::accumulate)
                            for (std::size_t i = 0; i < p; ++i) dst[i] += src[i] + b;
                        else
                            for (std::size_t i = 0; i < p; ++i) dst[i] = src[i] + b;
                    }
            }
        }
    });
}

// image_n = col2im(w^T * columns_n) (+ bias) for every sample and group. `bias` may be null. With
// write::accumulate the result is added onto `image`.
template <class T>
void lowered_convolve_adjoint(const conv_geometry& g, const T* columns, const T* w, const T* bias, T* image,
                              T* ws, write mode) {
    const std::size_t og = g.group_out_channels(), k = g.patch(), p = g.positions(),
                      chunk = g.samples_per_gemm(), chunks = chunk_count(g);
    const std::size_t plane = g.height * g.width;
    parallel_for(chunks, parallel_parts(chunks), [&](std::size_t c0, std::size_t c1, unsigned part) {
        const chunk_buffers<T> buf(g, part_workspace(g, ws, part));
        for (std::size_t first = c0 * chunk; first < std::min(g.batch, c1 * chunk); first += chunk) {
            const std::size_t count = std::min(chunk, g.batch - first), ld = count * p;
            for (std::size_t j = 0; j < count; ++j) {
                T* image_n = image + (first + j) * g.image_size();
                if (bias != nullptr)
                    put_channels(image_n, bias, g.channels, plane, mode);
                else if (mode == write::overwrite && !g.is_pointwise())
                    std::fill(image_n, image_n + g.image_size(), T(0));
            }
            const bool onto = bias != nullptr || mode == write::accumulate;
            for (std::size_t grp = 0; grp < g.groups; ++grp) {
                const T* w_g = w + grp * og * k;
                T* image_g = image + first * g.image_size() + grp * g.group_image_size();
                const T* cols_g = columns + first * g.columns_size() + grp * og * p;
                if (count > 1) {
                    gather_columns(g, columns, first, count, grp, buf.gathered);
                    cols_g = buf.gathered;
                }
                if (g.is_pointwise()) {
                    gemm(true, false, k, p, og, T(1), w_g, cols_g, onto ? T(1) : T(0), image_g);
                } else {
                    gemm(true, false, k, ld, og, T(1), w_g, cols_g, T(0), buf.col);
                    for (std::size_t j = 0; j < count; ++j)
                        col2im_add(g, buf.col + j * p, ld, image_g + j * g.image_size());
                }
            }
        }
    });
}

// dw = sum over samples of columns_n * im2col(image_n)^T, per group; dw is [out_channels, patch].
// With `db` (may be null) the per-channel sums of the columns come out of the same GEMM: a row of
// ones below the im2col matrix adds a last column to its product, so the columns are read once.
// With several threads each part sums its samples into its own [out_channels, patch (+1)] block
// (part 0 into the result itself), and the blocks are added at the end.
template <class T>
void lowered_weight_grad(const conv_geometry& g, const T* image, const T* columns, T* dw, T* db, T* ws,
                         write mode) {
    const std::size_t og = g.group_out_channels(), k = g.patch(), p = g.positions(),
                      chunk = g.samples_per_gemm(), chunks = chunk_count(g);
    const bool with_bias = db != nullptr && !g.is_pointwise();
    const std::size_t n_out = with_bias ? k + 1 : k;  // columns of the GEMM's result
    const std::size_t result_size = g.out_channels * n_out;
    T* result = with_bias ? chunk_buffers<T>(g, ws).weight_and_bias : dw;
    const bool onto_result = !with_bias && mode == write::accumulate;
    if (g.batch == 0) std::fill(result, result + result_size, T(0));
    const unsigned parts = parallel_parts(chunks);
    T* partials = parts > 1 ? thread_scratch<T, weight_partials_tag>((parts - 1) * result_size) : nullptr;
    parallel_for(chunks, parts, [&](std::size_t c0, std::size_t c1, unsigned part) {
        const chunk_buffers<T> buf(g, part_workspace(g, ws, part));
        T* sums = part == 0 ? result : partials + (part - 1) * result_size;
        for (std::size_t first = c0 * chunk; first < std::min(g.batch, c1 * chunk); first += chunk) {
            const std::size_t count = std::min(chunk, g.batch - first), ld = count * p;
            const T beta = first == c0 * chunk && (part != 0 || !onto_result) ? T(0) : T(1);
            if (with_bias) std::fill(buf.col + k * ld, buf.col + (k + 1) * ld, T(1));
            for (std::size_t grp = 0; grp < g.groups; ++grp) {
                const T* image_g = image + first * g.image_size() + grp * g.group_image_size();
                const T* col = image_g;
                if (!g.is_pointwise()) {
                    for (std::size_t j = 0; j < count; ++j)
                        im2col(g, image_g + j * g.image_size(), buf.col + j * p, ld);
                    col = buf.col;
                }
                const T* cols_g = columns + first * g.columns_size() + grp * og * p;
                if (count > 1) {
                    gather_columns(g, columns, first, count, grp, buf.gathered);
                    cols_g = buf.gathered;
                }
                gemm(false, true, og, n_out, ld, T(1), cols_g, col, beta, sums + grp * og * n_out);
            }
        }
    });
    for (unsigned part = 1; part < parts; ++part) {
        const T* sums = partials + (part - 1) * result_size;
        for (std::size_t i = 0; i < result_size; ++i) result[i] += sums[i];
    }
    if (!with_bias) return;
    for (std::size_t o = 0; o < g.out_channels; ++o) {
        for (std::size_t r = 0; r < k; ++r) store(dw, o * k + r, result[o * n_out + r], mode);
        store(db, o, result[o * n_out + k], mode);
    }
}

// db[c] = sum over samples and positions of x[n, c, :], for x[batch, channels, positions].
template <class T>
void channel_sums(const T* x, T* db, std::size_t batch, std::size_t channels, std::size_t positions,
                  write mode) {
    constexpr std::size_t lanes = 16;  // independent partial sums, so the adds pipeline and vectorize
    for (std::size_t c = 0; c < channels; ++c) {
        std::array<T, lanes> acc{};
        T tail = T(0);
        for (std::size_t n = 0; n < batch; ++n) {
            const T* row = x + (n * channels + c) * positions;
            std::size_t i = 0;
            for (; i + lanes <= positions; i += lanes)
                for (std::size_t l = 0; l < lanes; ++l) acc[l] += row[i + l];
            for (; i < positions; ++i) tail += row[i];
        }
        T total = tail;
        for (T a : acc) total += a;
        store(db, c, total, mode);
    }
}

}  // namespace katachi::kernels::detail
