// katachi/ops/conv_relu_max_pool2d.hpp: a convolution, the relu after it and a 2x2 max pooling
// of stride 2 after that, as one op: the graph face's fused node conv_relu_max_pool2d
// (graph/fusion.hpp) runs it where the three layers follow each other and nothing else reads the
// convolution's output, and the eager face's sequential where its three modules do
// (src/eager/modules/layers.cpp).
//
// Its values are those of conv2d, relu and max_pool2d (ops/conv2d.hpp, ops/max_pool2d.hpp) one after
// the other, and so are its gradients; only the order of the sums differs. Two fused passes:
// - direct (kernels/conv_relu_pool.hpp), for convolutions of at most conv_pool_max_taps taps with
//   stride 1 (a network's first layer): the convolution's full-size output and its gradient are
//   never written, in the forward or the backward, on any processor (AVX-512 vectors in float where
//   the processor has them, one element at a time elsewhere), so its scratch is a sample's.
// - Winograd's (kernels/winograd/pool.hpp: float on AVX2, a 3x3 convolution with an even output
//   and at least one 14x14 sample's tiles): the forward pools each output tile where it is made;
//   the backward (kernels/winograd/pool_backward.hpp, from four such samples) unpools each sample
//   channels-last, where both gradients' transforms read it.
// The unfused way (double, other processors or small batches on Winograd's convolutions) runs the
// convolution into workspace and pools it, and its backward unpools into workspace and runs the
// convolution's backward.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <katachi/kernels/conv_relu_pool.hpp>
#include <katachi/kernels/winograd/pool.hpp>
#include <katachi/kernels/winograd/pool_backward.hpp>
#include <katachi/ops/conv2d.hpp>
#include <katachi/ops/max_pool2d.hpp>
#include <type_traits>

namespace katachi::ops {

struct conv_relu_max_pool2d {
    // The convolution's output for a per-sample input.
    static constexpr dims between(const conv2d_options& conv, const dims& in) {
        return conv2d::output_shape(conv, in).out;
    }

    // Whether the convolution takes the direct fused pass (kernels/conv_relu_pool.hpp): few taps,
    // stride 1, one group.
    static constexpr bool direct(const conv2d_options& conv, const max_pool2d_options& pool, const dims& in) {
        const auto k = max_pool2d::kernel_options(pool);
        const dims mid = between(conv, in);
        return kernels::detail::conv_pool_fits(
            in[0] * conv.kernel_size.h * conv.kernel_size.w, conv.stride.h, conv.stride.w, conv.dilation.h,
            conv.dilation.w, conv.groups, k.kernel_size[0], k.kernel_size[1], k.stride[0], k.stride[1],
            k.padding[0], k.padding[1], k.dilation[0], k.dilation[1], k.ceil_mode, mid[1], mid[2]);
    }

    // Whether the three layers become one node (in the graph face, the fusion's condition): the
    // direct pass fits, or the convolution may run on Winograd (conv2d::winograd_applies) with an
    // output of even size, so that each output tile is one pooling window.
    static constexpr bool fits(const conv2d_options& conv, const max_pool2d_options& pool, const dims& in) {
        if (in.rank != 3 || !conv2d::output_shape(conv, in).ok() || !max_pool2d::keeps_positions(pool))
            return false;
        if (direct(conv, pool, in)) return true;
        const dims mid = between(conv, in);
        return conv2d::winograd_applies(conv) && mid[1] % 2 == 0 && mid[2] % 2 == 0;
    }

    static constexpr kernels::detail::conv_pool_shape shape(const conv2d_options& conv, const dims& in,
                                                            std::size_t batch) {
        return {.batch = batch,
                .channels = in[0],
                .height = in[1],
                .width = in[2],
                .out_channels = conv.out_channels,
                .kernel_h = conv.kernel_size.h,
                .kernel_w = conv.kernel_size.w,
                .pad_h = conv.padding.h,
                .pad_w = conv.padding.w};
    }

    static constexpr kernels::detail::winograd_shape winograd_sizes(const conv2d_options& conv,
                                                                    const dims& in, std::size_t batch) {
        const dims mid = between(conv, in);
        return {.batch = batch,
                .channels = in[0],
                .height = in[1],
                .width = in[2],
                .out_channels = conv.out_channels,
                .out_height = mid[1],
                .out_width = mid[2],
                .pad_h = conv.padding.h,
                .pad_w = conv.padding.w};
    }

    // The pooling's window positions, one byte each.
    static constexpr std::size_t index_size(const conv2d_options& conv, const max_pool2d_options& pool,
                                            const dims& in, std::size_t batch) {
        return max_pool2d::index_size(pool, between(conv, in), batch);
    }

    // The convolution's scratch (Winograd's pass uses it too), then its output (or output gradient):
    // what the unfused way takes.
    static constexpr std::size_t unfused_workspace_size(const conv2d_options& conv, const dims& in,
                                                        std::size_t batch) {
        return conv2d::workspace_size(conv, in, batch) + batch * between(conv, in).size();
    }

    // The direct pass's part scratch (its spread sample and gradient sums), else the largest of the
    // unfused way's and Winograd's pooled forward's and backward's (which one runs is known at run
    // time only).
    static constexpr std::size_t workspace_size(const conv2d_options& conv, const max_pool2d_options& pool,
                                                const dims& in, std::size_t batch) {
        if (direct(conv, pool, in)) return shape(conv, in, batch).part_size();
        const auto s = winograd_sizes(conv, in, batch);
        return std::max({unfused_workspace_size(conv, in, batch),
                         kernels::detail::winograd_pool_workspace_size(s),
                         kernels::detail::winograd_pool_backward_workspace_size(s)});
    }

    // What a runner that keeps its weights (inference_model) prepares once per load: the weight's
    // Winograd transform U, where Winograd's pooled forward may run this convolution; nothing for
    // the direct pass. prepare() writes it where this process runs that forward (float on AVX2),
    // and the forward reads it from call::prepared instead of transforming the weight each call.
    static constexpr std::size_t prepared_size(const conv2d_options& conv, const max_pool2d_options& pool,
                                               const dims& in) {
        if (!fits(conv, pool, in) || direct(conv, pool, in)) return 0;
        return kernels::detail::winograd_prepared_size(winograd_sizes(conv, in, 1));
    }
    template <class T>
    static void prepare(const conv2d_options& conv, const max_pool2d_options& pool, const dims& in,
                        const call<T>& c, T* prepared) {
        if constexpr (std::is_same_v<T, float>)
            if (prepared_size(conv, pool, in) > 0 && kernels::detail::winograd_on_fma_block<T>())
                kernels::detail::winograd_prepare_pool(winograd_sizes(conv, in, 1), c.params[0], prepared);
    }

    // How the node runs: `automatic` as fused_runs says; `portable` the direct pass one element at a
    // time even where the vector pass runs; `unfused` the layers' own kernels in turn, in
    // unfused_workspace_size (tests compare the three).
    enum class pass { automatic, portable, unfused };

    // Whether this process takes a fused pass for T at this batch: the direct pass always (in
    // vectors or one element at a time), Winograd's where it runs (kernels/winograd/pool.hpp).
    template <class T>
    static bool fused_runs(const conv2d_options& conv, const max_pool2d_options& pool, const dims& in,
                           std::size_t batch) {
        return direct(conv, pool, in) ||
               kernels::detail::winograd_pool_runs<T>(winograd_sizes(conv, in, batch));
    }
    // The same for the backward: Winograd's from the batch its weight gradient pays at
    // (kernels/winograd/pool_backward.hpp).
    template <class T>
    static bool fused_backward_runs(const conv2d_options& conv, const max_pool2d_options& pool,
                                    const dims& in, std::size_t batch) {
        return direct(conv, pool, in) ||
               kernels::detail::winograd_pool_backward_runs<T>(winograd_sizes(conv, in, batch));
    }

    template <class T>
    static void forward(const conv2d_options& conv, const max_pool2d_options& pool, const dims& in,
                        const call<T>& c, pass way = pass::automatic);

    // The direct pass sums dW and db from the pooled gradient and sends dx back from each window's
    // one position; Winograd's pooled backward unpools each sample channels-last where both of its
    // gradients read it; the unfused way (and Winograd's at small batches) unpools into workspace
    // and runs the convolution's backward.
    template <class T>
    static void backward(const conv2d_options& conv, const max_pool2d_options& pool, const dims& in,
                         const call<T>& c, pass way = pass::automatic);
};

// Defined after the struct (not inline), so that the float and double instances declared extern
// under KATACHI_EXTERN_KERNELS (katachi/instances.hpp) are not compiled in each file.
template <class T>
void conv_relu_max_pool2d::forward(const conv2d_options& conv, const max_pool2d_options& pool, const dims& in,
                                   const call<T>& c, pass way) {
    auto* at = c.backward_follows ? reinterpret_cast<std::uint8_t*>(c.indices) : nullptr;
    if (way != pass::unfused && direct(conv, pool, in)) {
        const bool vector = way == pass::automatic && kernels::detail::conv_pool_vector_runs<T>();
        kernels::detail::conv_relu_pool_forward(shape(conv, in, c.batch), c.x[0], c.params[0], c.params[1],
                                                c.y, at, c.workspace, vector);
        return;
    }
    if constexpr (std::is_same_v<T, float>)
        if (way == pass::automatic && fused_runs<T>(conv, pool, in, c.batch)) {
            kernels::detail::winograd_convolve_pool(winograd_sizes(conv, in, c.batch), c.x[0], c.params[0],
                                                    c.params[1], c.y, at, c.workspace, c.prepared);
            return;
        }
    call<T> first = c;
    first.y = c.workspace + conv2d::workspace_size(conv, in, c.batch);
    conv2d::forward(conv, in, first);
    call<T> second = c;
    second.x = {first.y, nullptr};
    second.params = {};
    max_pool2d::forward_after_relu(pool, between(conv, in), second);
}

template <class T>
void conv_relu_max_pool2d::backward(const conv2d_options& conv, const max_pool2d_options& pool,
                                    const dims& in, const call<T>& c, pass way) {
    if (way != pass::unfused && direct(conv, pool, in)) {
        const auto s = shape(conv, in, c.batch);
        const auto* at = reinterpret_cast<const std::uint8_t*>(c.indices);
        const bool vector = way == pass::automatic && kernels::detail::conv_pool_vector_runs<T>();
        if (c.dparams[0] || c.dparams[1])
            kernels::detail::conv_relu_pool_weight_grad(s, c.x[0], c.dy, c.y, at, c.dparams[0], c.dparams[1],
                                                        c.workspace, c.dparams_mode, vector);
        if (c.dx[0])
            kernels::detail::conv_relu_pool_input_grad(s, c.params[0], c.dy, c.y, at, c.dx[0], c.dx_mode[0]);
        return;
    }
    if (!c.dx[0] && !c.dparams[0] && !c.dparams[1]) return;
    if constexpr (std::is_same_v<T, float>)
        if (way == pass::automatic && fused_backward_runs<T>(conv, pool, in, c.batch)) {
            kernels::detail::winograd_pool_backward(
                winograd_sizes(conv, in, c.batch), c.x[0], c.params[0], c.dy, c.y,
                reinterpret_cast<const std::uint8_t*>(c.indices), c.dparams[0], c.dparams[1], c.dparams_mode,
                c.dx[0], c.dx_mode[0], c.workspace, true);
            return;
        }
    // The convolution's output gradient: the pooled gradient sent to the window positions,
    // where the pooled value is positive.
    T* grad = c.workspace + conv2d::workspace_size(conv, in, c.batch);
    call<T> second = c;
    second.params = {};
    second.dparams = {};
    second.dx = {grad, nullptr};
    second.dx_mode = {kernels::write::overwrite, kernels::write::overwrite};
    max_pool2d::backward_through_relu(pool, between(conv, in), second);
    call<T> first = c;
    first.dy = grad;
    conv2d::backward(conv, in, first);
}

}  // namespace katachi::ops
