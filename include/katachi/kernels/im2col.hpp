// katachi/kernels/im2col.hpp: the unrolling that lowers a convolution to GEMM, shared by conv1d,
// conv2d and conv_transpose2d.
//
// A convolution maps an *image* (channels, height, width) to *columns* (out_channels, out_height,
// out_width). For one sample and one group, im2col unrolls the image into a matrix whose row
// (c, ki, kj) holds, for every output position, the input element that kernel tap (ki, kj) of
// channel c sees there (zero in the padding); the convolution is then w[Og, Cg kh kw] times that
// matrix. col2im is its adjoint: it adds each matrix entry back onto the image element it came from.
// The GEMMs around them are in conv2d.hpp (the lowered products).
#pragma once

#include <katachi/error.hpp>
#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/gemm.hpp"
#include "katachi/kernels/winograd.hpp"
#include "katachi/shape.hpp"

namespace katachi::kernels::detail {

template <class E>
using scalar_t = std::remove_cv_t<typename std::remove_cvref_t<E>::value_type>;

// True when E is `none` or holds elements of type T.
template <class T, class E>
constexpr bool scalar_fits() {
    if constexpr (is_none_v<E>)
        return true;
    else
        return std::is_same_v<scalar_t<E>, T>;
}

// True when E is `none` or a tensor whose elements can be written (an output, not a const input).
template <class E>
constexpr bool writable() {
    if constexpr (is_none_v<E>)
        return true;
    else
        return !std::is_const_v<std::remove_pointer_t<decltype(data_of(std::declval<E&>()))>>;
}

template <class Shape>
std::string extents_text(const Shape& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

// Small images make small GEMMs: when a sample has fewer output positions than this, the im2col
// matrices of several samples are laid side by side and multiplied in one GEMM of about this many
// columns, and the products are copied back to their samples. Measured with 2 OpenBLAS threads at
// batch 64: on 7x7 images (64 -> 64 channels) it lifts the forward from 0.58 to 0.73 of one
// whole-batch GEMM; on LeNet's 14x14 and 28x28 images one GEMM per sample is as fast or faster,
// because the copy back costs more than the larger GEMM gains.
inline constexpr std::size_t gemm_columns_target = 256;

// The sizes of one convolution, seen from its image side and its column side.
struct conv_geometry {
    std::size_t batch = 0;
    std::size_t channels = 0, height = 0, width = 0;              // image side
    std::size_t out_channels = 0, out_height = 0, out_width = 0;  // column side
    std::size_t kernel_h = 1, kernel_w = 1;
    std::size_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
    std::size_t groups = 1;
    // conv2d runs this convolution on winograd.hpp instead of im2col (set by conv2d_geometry_of
    // when winograd_applies and winograd_pays; conv1d and conv_transpose2d always lower to im2col).
    bool winograd = false;

    std::size_t image_size() const { return channels * height * width; }
    std::size_t columns_size() const { return out_channels * positions(); }
    std::size_t positions() const { return out_height * out_width; }
    std::size_t group_channels() const { return channels / groups; }
    std::size_t group_out_channels() const { return out_channels / groups; }
    std::size_t patch() const { return group_channels() * kernel_h * kernel_w; }  // rows of im2col
    std::size_t group_image_size() const { return group_channels() * height * width; }
    // The image is its own im2col matrix: no scratch, no copy.
    bool is_pointwise() const {
        return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0 &&
               out_height == height && out_width == width;
    }
    // Samples per GEMM: one when the image is already the matrix, else enough to fill the target.
    std::size_t samples_per_gemm() const {
        if (is_pointwise() || positions() == 0 || batch == 0) return 1;
        return std::clamp<std::size_t>(gemm_columns_target / positions(), 1, batch);
    }
    // The sizes as winograd.hpp takes them.
    winograd_shape winograd_sizes() const {
        return {batch, channels, height, width, out_channels, out_height, out_width, pad_h, pad_w};
    }
    // Elements of scratch the path that runs needs: winograd_workspace_size, or the im2col lowering's.
    std::size_t workspace_size() const {
        return winograd ? winograd_workspace_size(winograd_sizes()) : im2col_workspace_size();
    }
    // Elements of scratch the lowered products need (see chunk_buffers in conv2d.hpp).
    std::size_t im2col_workspace_size() const {
        if (is_pointwise()) return 0;
        const std::size_t width = samples_per_gemm() * positions();
        return (patch() + 1) * width + (samples_per_gemm() > 1 ? group_out_channels() * width : 0) +
               out_channels * (patch() + 1);
    }
};

// Scratch for the lowered products: the caller's span, or (when it is empty) a buffer owned here.
template <class T>
class conv_scratch {
public:
    conv_scratch(const char* op, std::span<T> given, std::size_t needed) {
        if (needed == 0) return;
        if (given.empty()) {
            owned_.resize(needed);
            data_ = owned_.data();
        } else if (given.size() < needed) {
            KATACHI_THROW(shape_mismatch, std::string(op) + ": the workspace has " + std::to_string(given.size()) +
                                 " elements, needs " + std::to_string(needed) + " (ask " + op +
                                 "_workspace_size)");
        } else {
            data_ = given.data();
        }
    }
    T* data() const { return data_; }

private:
    std::vector<T> owned_;
    T* data_ = nullptr;
};

// Output positions o in [begin, end) whose input index o * stride + offset - pad lies in [0, input).
struct valid_positions {
    std::size_t begin, end;
};
inline valid_positions valid_range(std::size_t outputs, std::size_t offset, std::size_t pad,
                                   std::size_t stride, std::size_t input) {
    const std::size_t begin = pad > offset ? std::min(outputs, (pad - offset + stride - 1) / stride) : 0;
    const std::size_t limit = input + pad;  // o * stride + offset < limit
    const std::size_t end = limit > offset ? std::min(outputs, (limit - offset + stride - 1) / stride) : 0;
    return {begin, std::max(begin, end)};
}

// With unit strides and an output as wide as the input (a "same" convolution), a whole tap row of
// im2col is the input plane shifted by a constant: one block copy (or add), then the few entries
// that fall into the left and right padding are fixed up. Otherwise the tap row is built one output
// row at a time.
inline bool shifted_plane(const conv_geometry& g) {
    return g.stride_h == 1 && g.stride_w == 1 && g.out_width == g.width;
}

// Zeros n elements. Padding borders are a few elements wide: stores, not a call to memset.
template <class T>
inline void zero_few(T* p, std::size_t n) {
    if (n > 4) {
        std::fill(p, p + n, T(0));
        return;
    }
    if (n > 0) p[0] = T(0);
    if (n > 1) p[1] = T(0);
    if (n > 2) p[2] = T(0);
    if (n > 3) p[3] = T(0);
}

// Where kernel tap (ki, kj) reads: the output positions whose input lies inside the image, and
// the offset of the first such input in a channel plane.
struct tap_window {
    valid_positions rows, cols;
    std::size_t head, tail;  // [head, tail): from the first to one past the last valid position
    std::size_t offset;      // plane index read by position `head`
    bool empty() const { return rows.end == rows.begin || cols.end == cols.begin; }
};
inline tap_window tap_window_of(const conv_geometry& g, std::size_t ki, std::size_t kj) {
    tap_window t;
    t.rows = valid_range(g.out_height, ki * g.dilation_h, g.pad_h, g.stride_h, g.height);
    t.cols = valid_range(g.out_width, kj * g.dilation_w, g.pad_w, g.stride_w, g.width);
    if (t.empty()) return t;
    t.head = t.rows.begin * g.out_width + t.cols.begin;
    t.tail = (t.rows.end - 1) * g.out_width + t.cols.end;
    t.offset = (t.rows.begin * g.stride_h + ki * g.dilation_h - g.pad_h) * g.width +
               t.cols.begin * g.stride_w + kj * g.dilation_w - g.pad_w;
    return t;
}

// One group of one sample: the rows of col[patch, positions] (row r at col + r * ld) from
// image[group_channels, height, width]. Row (c, ki, kj) holds what tap (ki, kj) of channel c reads.
template <class T>
void im2col(const conv_geometry& g, const T* image, T* col, std::size_t ld) {
    const std::size_t wo = g.out_width, positions = g.positions(), plane = g.height * g.width;
    const std::size_t taps = g.kernel_h * g.kernel_w;
    const bool block = shifted_plane(g);
    for (std::size_t ki = 0; ki < g.kernel_h; ++ki)
        for (std::size_t kj = 0; kj < g.kernel_w; ++kj) {
            const tap_window t = tap_window_of(g, ki, kj);
            const std::size_t gap = wo - t.cols.end + t.cols.begin, count = t.cols.end - t.cols.begin;
            for (std::size_t c = 0; c < g.group_channels(); ++c) {
                T* out = col + (c * taps + ki * g.kernel_w + kj) * ld;
                if (t.empty()) {
                    std::fill(out, out + positions, T(0));
                    continue;
                }
                const T* src = image + c * plane + t.offset;
                zero_few(out, t.head);
                zero_few(out + t.tail, positions - t.tail);
                if (block) {
                    std::copy(src, src + (t.tail - t.head), out + t.head);
                    for (std::size_t oh = t.rows.begin; oh + 1 < t.rows.end; ++oh)
                        zero_few(out + oh * wo + t.cols.end, gap);
                    continue;
                }
                for (std::size_t oh = t.rows.begin; oh < t.rows.end; ++oh, src += g.stride_h * g.width) {
                    T* o = out + oh * wo + t.cols.begin;
                    if (g.stride_w == 1)
                        std::copy(src, src + count, o);
                    else
                        for (std::size_t i = 0; i < count; ++i) o[i] = src[i * g.stride_w];
                    if (oh + 1 != t.rows.end) zero_few(o + count, gap);
                }
            }
        }
}

// The adjoint of im2col: adds every entry of col[patch, positions] (row r at col + r * ld) onto the
// image element it was read from; entries that stand for padding are dropped. The image is not
// cleared first. `col` is scratch: its padding entries may be overwritten with zeros.
template <class T>
void col2im_add(const conv_geometry& g, T* col, std::size_t ld, T* image) {
    const std::size_t wo = g.out_width, plane = g.height * g.width, taps = g.kernel_h * g.kernel_w;
    const bool block = shifted_plane(g);
    for (std::size_t ki = 0; ki < g.kernel_h; ++ki)
        for (std::size_t kj = 0; kj < g.kernel_w; ++kj) {
            const tap_window t = tap_window_of(g, ki, kj);
            if (t.empty()) continue;
            const std::size_t gap = wo - t.cols.end + t.cols.begin, count = t.cols.end - t.cols.begin;
            for (std::size_t c = 0; c < g.group_channels(); ++c) {
                T* in = col + (c * taps + ki * g.kernel_w + kj) * ld;
                T* dst = image + c * plane + t.offset;
                if (block) {
                    // Zero the padding entries inside the block, then add the block in one pass.
                    for (std::size_t oh = t.rows.begin; oh + 1 < t.rows.end; ++oh)
                        zero_few(in + oh * wo + t.cols.end, gap);
                    const T* src = in + t.head;
                    for (std::size_t i = 0; i < t.tail - t.head; ++i) dst[i] += src[i];
                    continue;
                }
                for (std::size_t oh = t.rows.begin; oh < t.rows.end; ++oh, dst += g.stride_h * g.width) {
                    const T* src = in + oh * wo + t.cols.begin;
                    if (g.stride_w == 1)
                        for (std::size_t i = 0; i < count; ++i) dst[i] += src[i];
                    else
                        for (std::size_t i = 0; i < count; ++i) dst[i * g.stride_w] += src[i];
                }
            }
        }
}

}  // namespace katachi::kernels::detail
