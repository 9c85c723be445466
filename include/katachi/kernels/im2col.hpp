// katachi/kernels/im2col.hpp: convolution lowered to GEMM, shared by conv1d, conv2d and
// conv_transpose2d.
//
// A convolution maps an *image* (channels, height, width) to *columns* (out_channels, out_height,
// out_width). For one sample and one group, im2col unrolls the image into a matrix whose row
// (c, ki, kj) holds, for every output position, the input element that kernel tap (ki, kj) of
// channel c sees there (zero in the padding); the convolution is then w[Og, Cg kh kw] times that
// matrix. col2im is its adjoint: it adds each matrix entry back onto the image element it came from.
//
// Three lowered products cover all the convolution kernels:
//   lowered_convolve      columns = w * im2col(image)          conv2d forward, conv_transpose2d dx
//   lowered_convolve_adj  image   = col2im(w^T * columns)      conv2d dx, conv_transpose2d forward
//   lowered_weight_grad   dw      = sum_n columns * im2col(image)^T   both kernels' dw
// A 1x1 kernel with stride 1 and no padding needs no im2col: the image already is the matrix.
#pragma once

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

// The sizes of one convolution, seen from its image side and its column side.
struct conv_geometry {
    std::size_t batch = 0;
    std::size_t channels = 0, height = 0, width = 0;              // image side
    std::size_t out_channels = 0, out_height = 0, out_width = 0;  // column side
    std::size_t kernel_h = 1, kernel_w = 1;
    std::size_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
    std::size_t groups = 1;

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
    // Elements of scratch the lowered products need: one group's im2col matrix of one sample.
    std::size_t workspace_size() const { return is_pointwise() ? 0 : patch() * positions(); }
};

// Checks the channel counts of a convolution whose weight is [out_channels, channels / groups, ...].
inline void check_conv_channels(const char* op, std::size_t channels, std::size_t out_channels,
                                std::size_t weight_channels, std::size_t groups, const std::string& shapes) {
    const std::string where = std::string(op) + ": ";
    if (groups == 0) throw shape_mismatch(where + "groups must be at least 1 (" + shapes + ")");
    if (channels % groups != 0)
        throw shape_mismatch(where + "input channels " + std::to_string(channels) +
                             " are not divisible by groups " + std::to_string(groups) + " (" + shapes + ")");
    if (out_channels % groups != 0)
        throw shape_mismatch(where + "output channels " + std::to_string(out_channels) +
                             " are not divisible by groups " + std::to_string(groups) + " (" + shapes + ")");
    if (weight_channels != channels / groups)
        throw shape_mismatch(where + "the weight has " + std::to_string(weight_channels) +
                             " input channels per group, expected " + std::to_string(channels) + " / " +
                             std::to_string(groups) + " = " + std::to_string(channels / groups) + " (" +
                             shapes + ")");
}

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
            throw shape_mismatch(std::string(op) + ": the workspace has " + std::to_string(given.size()) +
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

// One group of one sample: col[patch, positions] from image[group_channels, height, width].
template <class T>
void im2col(const conv_geometry& g, const T* image, T* col) {
    const std::size_t ho = g.out_height, wo = g.out_width, positions = g.positions();
    for (std::size_t c = 0; c < g.group_channels(); ++c) {
        const T* plane = image + c * g.height * g.width;
        for (std::size_t ki = 0; ki < g.kernel_h; ++ki) {
            const valid_positions rows = valid_range(ho, ki * g.dilation_h, g.pad_h, g.stride_h, g.height);
            for (std::size_t kj = 0; kj < g.kernel_w; ++kj) {
                const valid_positions cols = valid_range(wo, kj * g.dilation_w, g.pad_w, g.stride_w, g.width);
                T* out = col + ((c * g.kernel_h + ki) * g.kernel_w + kj) * positions;
                std::fill(out, out + rows.begin * wo, T(0));
                std::fill(out + rows.end * wo, out + positions, T(0));
                if (cols.end == cols.begin) {
                    std::fill(out + rows.begin * wo, out + rows.end * wo, T(0));
                    continue;
                }
                const std::size_t count = cols.end - cols.begin;
                const std::size_t first_in = cols.begin * g.stride_w + kj * g.dilation_w - g.pad_w;
                for (std::size_t oh = rows.begin; oh < rows.end; ++oh) {
                    T* o = out + oh * wo;
                    const T* src =
                        plane + (oh * g.stride_h + ki * g.dilation_h - g.pad_h) * g.width + first_in;
                    std::fill(o, o + cols.begin, T(0));
                    if (g.stride_w == 1) {
                        std::copy(src, src + count, o + cols.begin);
                    } else {
                        T* dst = o + cols.begin;
                        for (std::size_t i = 0; i < count; ++i) dst[i] = src[i * g.stride_w];
                    }
                    std::fill(o + cols.end, o + wo, T(0));
                }
            }
        }
    }
}

// The adjoint of im2col: adds every entry of col[patch, positions] onto the image element it was read
// from (padding entries are dropped). The image is not cleared first.
template <class T>
void col2im_add(const conv_geometry& g, const T* col, T* image) {
    const std::size_t wo = g.out_width, positions = g.positions();
    for (std::size_t c = 0; c < g.group_channels(); ++c) {
        T* plane = image + c * g.height * g.width;
        for (std::size_t ki = 0; ki < g.kernel_h; ++ki) {
            const valid_positions rows =
                valid_range(g.out_height, ki * g.dilation_h, g.pad_h, g.stride_h, g.height);
            for (std::size_t kj = 0; kj < g.kernel_w; ++kj) {
                const valid_positions cols = valid_range(wo, kj * g.dilation_w, g.pad_w, g.stride_w, g.width);
                if (cols.end == cols.begin) continue;
                const T* in = col + ((c * g.kernel_h + ki) * g.kernel_w + kj) * positions;
                const std::size_t count = cols.end - cols.begin;
                const std::size_t first_in = cols.begin * g.stride_w + kj * g.dilation_w - g.pad_w;
                for (std::size_t oh = rows.begin; oh < rows.end; ++oh) {
                    const T* src = in + oh * wo + cols.begin;
                    T* dst = plane + (oh * g.stride_h + ki * g.dilation_h - g.pad_h) * g.width + first_in;
                    if (g.stride_w == 1) {
                        for (std::size_t i = 0; i < count; ++i) dst[i] += src[i];
                    } else {
                        for (std::size_t i = 0; i < count; ++i) dst[i * g.stride_w] += src[i];
                    }
                }
            }
        }
    }
}

// Writes b[channel] over every position of each channel of one sample.
template <class T>
void fill_channels(T* out, const T* b, std::size_t channels, std::size_t positions) {
    for (std::size_t c = 0; c < channels; ++c)
        std::fill(out + c * positions, out + (c + 1) * positions, b[c]);
}

// columns_n = w * im2col(image_n) (+ bias) for every sample and group. `bias` may be null. With
// write::accumulate the result is added onto `columns`.
template <class T>
void lowered_convolve(const conv_geometry& g, const T* image, const T* w, const T* bias, T* columns, T* ws,
                      write mode) {
    const std::size_t og = g.group_out_channels(), k = g.patch(), p = g.positions();
    const bool direct = g.is_pointwise();
    for (std::size_t n = 0; n < g.batch; ++n) {
        T* out_n = columns + n * g.columns_size();
        T beta = mode == write::accumulate ? T(1) : T(0);
        if (bias != nullptr) {
            if (mode == write::accumulate) {
                for (std::size_t c = 0; c < g.out_channels; ++c)
                    for (std::size_t i = 0; i < p; ++i) out_n[c * p + i] += bias[c];
            } else {
                fill_channels(out_n, bias, g.out_channels, p);
            }
            beta = T(1);
        }
        for (std::size_t grp = 0; grp < g.groups; ++grp) {
            const T* image_g = image + n * g.image_size() + grp * g.group_image_size();
            const T* col = image_g;
            if (!direct) {
                im2col(g, image_g, ws);
                col = ws;
            }
            gemm(false, false, og, p, k, T(1), w + grp * og * k, col, beta, out_n + grp * og * p);
        }
    }
}

// image_n = col2im(w^T * columns_n) (+ bias) for every sample and group. `bias` may be null. With
// write::accumulate the result is added onto `image`.
template <class T>
void lowered_convolve_adjoint(const conv_geometry& g, const T* columns, const T* w, const T* bias, T* image,
                              T* ws, write mode) {
    const std::size_t og = g.group_out_channels(), k = g.patch(), p = g.positions();
    const std::size_t plane = g.height * g.width;
    const bool direct = g.is_pointwise();
    for (std::size_t n = 0; n < g.batch; ++n) {
        T* image_n = image + n * g.image_size();
        if (bias != nullptr && mode == write::accumulate) {
            for (std::size_t c = 0; c < g.channels; ++c)
                for (std::size_t i = 0; i < plane; ++i) image_n[c * plane + i] += bias[c];
        } else if (bias != nullptr) {
            fill_channels(image_n, bias, g.channels, plane);
        } else if (mode == write::overwrite && !direct) {
            std::fill(image_n, image_n + g.image_size(), T(0));
        }
        const bool onto = bias != nullptr || mode == write::accumulate;
        for (std::size_t grp = 0; grp < g.groups; ++grp) {
            const T* cols_g = columns + n * g.columns_size() + grp * og * p;
            T* image_g = image_n + grp * g.group_image_size();
            if (direct) {
                gemm(true, false, k, p, og, T(1), w + grp * og * k, cols_g, onto ? T(1) : T(0), image_g);
            } else {
                gemm(true, false, k, p, og, T(1), w + grp * og * k, cols_g, T(0), ws);
                col2im_add(g, ws, image_g);
            }
        }
    }
}

// dw = sum over samples of columns_n * im2col(image_n)^T, per group; dw is [out_channels, patch].
template <class T>
void lowered_weight_grad(const conv_geometry& g, const T* image, const T* columns, T* dw, T* ws, write mode) {
    const std::size_t og = g.group_out_channels(), k = g.patch(), p = g.positions();
    if (g.batch == 0 && mode == write::overwrite) std::fill(dw, dw + g.out_channels * k, T(0));
    for (std::size_t n = 0; n < g.batch; ++n) {
        const T beta = n == 0 && mode == write::overwrite ? T(0) : T(1);
        for (std::size_t grp = 0; grp < g.groups; ++grp) {
            const T* image_g = image + n * g.image_size() + grp * g.group_image_size();
            const T* col = image_g;
            if (!g.is_pointwise()) {
                im2col(g, image_g, ws);
                col = ws;
            }
            gemm(false, true, og, k, p, T(1), columns + n * g.columns_size() + grp * og * p, col, beta,
                 dw + grp * og * k);
        }
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
