// katachi/kernels/winograd/shape.hpp: the sizes of one Winograd F(2x2, 3x3) convolution
// (winograd_shape) and the rules over them: which convolutions Winograd can run
// (winograd_applies), which it runs faster than the im2col lowering (winograd_pays), the scratch it
// takes (winograd_workspace_size), and how one part's scratch is laid out (winograd_buffers,
// winograd_part_area). The method itself is described in kernels/winograd.hpp.
#pragma once

#include <algorithm>
#include <cstddef>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/conv_scratch.hpp"
#include "katachi/kernels/fma_block.hpp"
#include "katachi/kernels/gemm.hpp"
#include "katachi/parallel.hpp"

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
    constexpr std::size_t part_size() const { return part_size_for(scratch_tiles()); }
    // The same with room for `rows` rows of V and M.
    constexpr std::size_t part_size_for(std::size_t rows) const {
        return 16 * (channels + out_channels) * rows + (in_pixels() + 1) * channels +
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
// With `rows`, room for that many rows of V and M only (part_size_for).
template <class T>
struct winograd_buffers {
    T *v = nullptr, *m = nullptr, *in = nullptr, *in_extra = nullptr, *out = nullptr, *out_extra = nullptr;
    winograd_buffers() = default;  // for a layout assembled by hand (winograd/pool_backward.hpp)
    winograd_buffers(const winograd_shape& s, T* area, std::size_t rows = 0) {
        if (rows == 0) rows = s.scratch_tiles();
        v = area;
        m = v + 16 * s.channels * rows;
        in = m + 16 * s.out_channels * rows;
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

}  // namespace katachi::kernels::detail
