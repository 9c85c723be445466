// katachi/kernels/max_pool2d/window.hpp: max_pool2d_options and the pooling of any window: the
// portable loop over each output's dilated window (max_pool_windows), padding as -inf, the first
// maximum in row-major order winning and NaN propagating; and the tests that pick the plain 2x2
// path (is_plain_2x2) and its window-position indices (is_window_position_v).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

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

}  // namespace detail

}  // namespace katachi::kernels
