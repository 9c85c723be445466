// katachi/kernels/conv2d.hpp: 2-d convolution (PyTorch's cross-correlation) with stride, padding,
// dilation and groups.
//
// x[N, C, H, W], w[O, C / groups, kh, kw], b[O] or none, y[N, O, Ho, Wo] with Ho, Wo from
// katachi::conv_output_size. Lowered to GEMM per sample and group (im2col.hpp), or per few samples
// when the images are small: the forward is y = w * im2col(x) with the bias written first and the
// GEMM adding onto it; the backward is dw = sum_n dy * im2col(x)^T (db from the same GEMM),
// dx = col2im(w^T * dy).
//
// Three lowered products serve all the convolution kernels:
//   lowered_convolve          columns = w * im2col(image)            conv2d forward, conv_transpose2d dx
//   lowered_convolve_adjoint  image   = col2im(w^T * columns)        conv2d dx, conv_transpose2d forward
//   lowered_weight_grad       dw      = sum_n columns * im2col(image)^T   both kernels' dw
//
// A 3x3 kernel with stride 1, no dilation or groups and padding at most 2 runs on Winograd's
// F(2x2, 3x3) instead (winograd.hpp) when it has the channels and the batch to pay for it
// (winograd_pays): forward, dx and dw as 16 GEMMs over 2x2 output tiles, 2.25 times fewer
// multiplications than the lowering.
//
// Scratch: conv2d_workspace_size(...) elements serve both forward and backward. Pass them as
// `workspace` and the kernels allocate nothing; an empty workspace makes the kernel allocate its own
// scratch for the call; a workspace that is too small throws katachi::shape_mismatch.
#pragma once

#include <katachi/error.hpp>
#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/im2col.hpp"
#include "katachi/kernels/winograd.hpp"
#include "katachi/parallel.hpp"
#include "katachi/shape.hpp"

namespace katachi::kernels {

struct conv2d_options {
    std::array<std::size_t, 2> stride{1, 1};
    std::array<std::size_t, 2> padding{0, 0};
    std::array<std::size_t, 2> dilation{1, 1};
    std::size_t groups = 1;
};

namespace detail {

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

// Checks the channel counts of a convolution whose weight is [out_channels, channels / groups, ...].
// `shapes()` describes the arguments; it is called only to word an error, so a check allocates nothing.
template <class Shapes>
void check_conv_channels(const char* op, std::size_t channels, std::size_t out_channels,
                         std::size_t weight_channels, std::size_t groups, const Shapes& shapes) {
    const auto fail = [&](const std::string& rule) {
        KATACHI_THROW(shape_mismatch, std::string(op) + ": " + rule + " (" + shapes() + ")");
    };
    if (groups == 0) fail("groups must be at least 1");
    if (channels % groups != 0)
        fail("input channels " + std::to_string(channels) + " are not divisible by groups " +
             std::to_string(groups));
    if (out_channels % groups != 0)
        fail("output channels " + std::to_string(out_channels) + " are not divisible by groups " +
             std::to_string(groups));
    if (weight_channels != channels / groups)
        fail("the weight has " + std::to_string(weight_channels) + " input channels per group, expected " +
             std::to_string(channels) + " / " + std::to_string(groups) + " = " +
             std::to_string(channels / groups));
}

// katachi::conv_output_size without building its message (a std::string) unless it throws.
inline std::size_t conv_size(const char* op, conv_dim d) {
    const size_result r = conv_output(d);
    return r.ok() ? r.value : conv_output_size(op, d);
}

// The fields of a conv2d-shaped geometry, given its output size; nothing checked, im2col's path.
inline conv_geometry conv_fields(const std::array<std::size_t, 4>& x, const std::array<std::size_t, 4>& w,
                                 const conv2d_options& o, std::size_t out_height, std::size_t out_width) {
    conv_geometry g;
    g.batch = x[0];
    g.channels = x[1];
    g.height = x[2];
    g.width = x[3];
    g.out_channels = w[0];
    g.kernel_h = w[2];
    g.kernel_w = w[3];
    g.stride_h = o.stride[0];
    g.stride_w = o.stride[1];
    g.pad_h = o.padding[0];
    g.pad_w = o.padding[1];
    g.dilation_h = o.dilation[0];
    g.dilation_w = o.dilation[1];
    g.groups = o.groups;
    g.out_height = out_height;
    g.out_width = out_width;
    return g;
}

// conv2d takes Winograd's path where it applies and pays (conv1d never does).
inline void choose_winograd(conv_geometry& g) {
    g.winograd = winograd_applies(g.kernel_h, g.kernel_w, g.stride_h, g.stride_w, g.dilation_h, g.dilation_w,
                                  g.groups, g.pad_h, g.pad_w) &&
                 winograd_pays(g.winograd_sizes());
}

// The geometry of a conv2d-shaped operation named `op` on x[N, C, H, W] and w[O, C/g, kh, kw];
// conv1d calls it with H = kh = 1. Throws shape_mismatch or shape_arithmetic_error naming `op`.
template <class Shapes>
conv_geometry conv2d_geometry(const char* op, const std::array<std::size_t, 4>& x,
                              const std::array<std::size_t, 4>& w, const conv2d_options& o,
                              const Shapes& shapes) {
    check_conv_channels(op, x[1], w[0], w[1], o.groups, shapes);
    return conv_fields(x, w, o, conv_size(op, {x[2], w[2], o.stride[0], o.padding[0], o.dilation[0]}),
                       conv_size(op, {x[3], w[3], o.stride[1], o.padding[1], o.dilation[1]}));
}

// The geometry of shapes already known to fit (the graph face's, checked by its types): no check,
// so nothing here can fail or build a message. Winograd is chosen as conv2d_geometry_of chooses it.
inline conv_geometry conv2d_geometry_unchecked(const std::array<std::size_t, 4>& x,
                                              const std::array<std::size_t, 4>& w, const conv2d_options& o,
                                              std::size_t out_height, std::size_t out_width) {
    conv_geometry g = conv_fields(x, w, o, out_height, out_width);
    choose_winograd(g);
    return g;
}

template <class XS, class WS>
conv_geometry conv2d_geometry_of(const XS& x_shape, const WS& w_shape, const conv2d_options& opts) {
    const auto shapes = [&] { return "x " + extents_text(x_shape) + ", w " + extents_text(w_shape); };
    if (x_shape.size() != 4)
        KATACHI_THROW(shape_mismatch, "conv2d: x has shape " + extents_text(x_shape) +
                             ", expected rank 4 [N, C, H, W]");
    if (w_shape.size() != 4)
        KATACHI_THROW(shape_mismatch, "conv2d: w has shape " + extents_text(w_shape) +
                             ", expected rank 4 [out_channels, in_channels / groups, kh, kw]");
    conv_geometry g = conv2d_geometry("conv2d", {x_shape[0], x_shape[1], x_shape[2], x_shape[3]},
                                      {w_shape[0], w_shape[1], w_shape[2], w_shape[3]}, opts, shapes);
    choose_winograd(g);
    return g;
}

// The shared bodies of the conv1d and conv2d kernels, once the caller has checked the shapes: the
// im2col lowering, or Winograd when the geometry says so (g.winograd; a test may set or clear it
// on a shape that fits, to compare the two paths).
//
// convolve_forward is the forward on pointers, with a workspace of g.workspace_size() elements: what
// the kernel runs once it has checked its arguments, and what the graph face runs directly (its
// types are the check, graph/layers/conv2d.hpp), so that path builds no message and needs no heap.
template <class T>
void convolve_forward(const conv_geometry& g, const T* x, const T* w, const T* bias, T* y, T* ws) {
    if (g.winograd)
        winograd_convolve(g.winograd_sizes(), x, w, false, bias, y, ws, write::overwrite);
    else
        lowered_convolve(g, x, w, bias, y, ws, write::overwrite);
}

template <class T, class X, class W, class B, class Y>
void run_lowered_forward(const char* op, const conv_geometry& g, const X& x, const W& w, const B& b, Y& y,
                         std::span<T> workspace) {
    const T* bias = nullptr;
    if constexpr (!is_none_v<B>) bias = data_of(b);
    const conv_scratch<T> ws(op, workspace, g.workspace_size());
    convolve_forward<T>(g, data_of(x), data_of(w), bias, data_of(y), ws.data());
}

template <class T, class X, class W, class DY, class DX, class DW, class DB>
void run_lowered_backward(const char* op, const conv_geometry& g, const X& x, const W& w, const DY& dy,
                          DX& dx, DW& dw, DB& db, std::span<T> workspace, write mode) {
    constexpr bool needs_scratch = !is_none_v<DX> || !is_none_v<DW>;
    const conv_scratch<T> ws(op, workspace, needs_scratch ? g.workspace_size() : 0);
    const T* dyp = data_of(dy);
    T* db_in_gemm = nullptr;  // db rides along with dw's GEMM (or Winograd's dw) when both are wanted
    if constexpr (!is_none_v<DW> && !is_none_v<DB>) db_in_gemm = g.is_pointwise() ? nullptr : data_of(db);
    if (g.winograd) {
        const winograd_shape s = g.winograd_sizes();
        if constexpr (!is_none_v<DW>)
            winograd_weight_grad(s, data_of(x), dyp, data_of(dw), db_in_gemm, ws.data(), mode);
        if constexpr (!is_none_v<DX>)
            winograd_convolve(s.adjoint(), dyp, data_of(w), true, static_cast<const T*>(nullptr), data_of(dx),
                              ws.data(), mode);
    } else {
        if constexpr (!is_none_v<DW>)
            lowered_weight_grad(g, data_of(x), dyp, data_of(dw), db_in_gemm, ws.data(), mode);
        if constexpr (!is_none_v<DX>)
            lowered_convolve_adjoint(g, dyp, data_of(w), static_cast<const T*>(nullptr), data_of(dx),
                                     ws.data(), mode);
    }
    if constexpr (!is_none_v<DB>)
        if (db_in_gemm == nullptr)
            channel_sums(dyp, data_of(db), g.batch, g.out_channels, g.positions(), mode);
}

}  // namespace detail

// [N, O, Ho, Wo] for x.shape() and w.shape(); throws like the kernels do.
template <class XS, class WS>
std::array<std::size_t, 4> conv2d_output_shape(const XS& x_shape, const WS& w_shape,
                                               const conv2d_options& opts = {}) {
    const detail::conv_geometry g = detail::conv2d_geometry_of(x_shape, w_shape, opts);
    return {g.batch, g.out_channels, g.out_height, g.out_width};
}

// Elements of scratch that conv2d_forward and conv2d_backward need for these shapes.
template <class XS, class WS>
std::size_t conv2d_workspace_size(const XS& x_shape, const WS& w_shape, const conv2d_options& opts = {}) {
    return detail::conv2d_geometry_of(x_shape, w_shape, opts).workspace_size();
}

template <tensor_like X, tensor_like W, class B, tensor_like Y>
void conv2d_forward(const X& x, const W& w, const B& b, Y&& y, const conv2d_options& opts = {},
                    std::span<detail::scalar_t<X>> workspace = {}) {
    using T = detail::scalar_t<X>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "conv2d: the scalar must be float or double");
    static_assert(detail::scalar_fits<T, W>() && detail::scalar_fits<T, B>() && detail::scalar_fits<T, Y>(),
                  "conv2d: x, w, b and y must hold the same scalar type");
    static_assert(detail::writable<Y>(), "conv2d: y must be writable (not const)");
    detail::require_rank("conv2d", "x", x, 4);
    detail::require_rank("conv2d", "w", w, 4);
    const detail::conv_geometry g = detail::conv2d_geometry_of(x.shape(), w.shape(), opts);
    if constexpr (!is_none_v<B>) detail::require_shape("conv2d", "b", b, {g.out_channels});
    detail::require_shape("conv2d", "y", y, {g.batch, g.out_channels, g.out_height, g.out_width});
    detail::run_lowered_forward("conv2d", g, x, w, b, y, workspace);
}

// Gradients of conv2d_forward for the cotangent dy[N, O, Ho, Wo]. Each of dx, dw, db may be `none`.
template <tensor_like X, tensor_like W, tensor_like DY, class DX, class DW, class DB>
void conv2d_backward(const X& x, const W& w, const DY& dy, DX&& dx, DW&& dw, DB&& db,
                     const conv2d_options& opts = {}, std::span<detail::scalar_t<X>> workspace = {},
                     write mode = write::overwrite) {
    using T = detail::scalar_t<X>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "conv2d: the scalar must be float or double");
    static_assert(detail::scalar_fits<T, W>() && detail::scalar_fits<T, DY>() &&
                      detail::scalar_fits<T, DX>() && detail::scalar_fits<T, DW>() &&
                      detail::scalar_fits<T, DB>(),
                  "conv2d: x, w, dy and the gradients must hold the same scalar type");
    static_assert(detail::writable<DX>() && detail::writable<DW>() && detail::writable<DB>(),
                  "conv2d: dx, dw and db must each be writable (not const) or none");
    detail::require_rank("conv2d", "x", x, 4);
    detail::require_rank("conv2d", "w", w, 4);
    const detail::conv_geometry g = detail::conv2d_geometry_of(x.shape(), w.shape(), opts);
    detail::require_shape("conv2d", "dy", dy, {g.batch, g.out_channels, g.out_height, g.out_width});
    if constexpr (!is_none_v<DX>)
        detail::require_shape("conv2d", "dx", dx, {g.batch, g.channels, g.height, g.width});
    if constexpr (!is_none_v<DW>)
        detail::require_shape("conv2d", "dw", dw,
                              {g.out_channels, g.group_channels(), g.kernel_h, g.kernel_w});
    if constexpr (!is_none_v<DB>) detail::require_shape("conv2d", "db", db, {g.out_channels});
    detail::run_lowered_backward("conv2d", g, x, w, dy, dx, dw, db, workspace, mode);
}

}  // namespace katachi::kernels
