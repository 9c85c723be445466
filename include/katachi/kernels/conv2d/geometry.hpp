// katachi/kernels/conv2d/geometry.hpp: conv2d_options and the geometry of a conv2d-shaped
// operation: the checks of its channel counts and sizes (which throw naming the operation), the
// fields of its conv_geometry, and the choice of Winograd's path (winograd_applies and
// winograd_pays); conv2d_geometry_unchecked for the graph face, whose types are the check.
#pragma once

#include <katachi/error.hpp>
#include <array>
#include <cstddef>
#include <string>

#include "katachi/kernels/common.hpp"
#include "katachi/kernels/im2col.hpp"
#include "katachi/kernels/winograd/shape.hpp"
#include "katachi/shape.hpp"

namespace katachi::kernels {

struct conv2d_options {
    std::array<std::size_t, 2> stride{1, 1};
    std::array<std::size_t, 2> padding{0, 0};
    std::array<std::size_t, 2> dilation{1, 1};
    std::size_t groups = 1;
};

namespace detail {

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

}  // namespace detail

}  // namespace katachi::kernels
