// katachi/ops/max_pool2d.hpp: 2-d max pooling (torch.nn.MaxPool2d), defined once for both faces.
//
// Per sample [C, H, W] -> [C, Ho, Wo]. PyTorch's options: kernel_size; stride (0, the default,
// means the kernel size); padding (at most half the kernel, padded with -inf); dilation; ceil_mode.
// The forward keeps, per output, where its maximum came from, for the backward (not when no
// backward follows): for the 2x2 pooling of stride 2 its window position, one byte packed 8 to an
// int64 of index storage; else its flat index in the plane, an int64.
//
// A relu right before it may be taken in (graph face): pooling the relu's input and applying the
// relu to the pooled values gives the same values, because the relu is monotone; the backward then
// passes a gradient only where a pooled value is positive, which is the relu's backward.
#pragma once

#include <cstdint>
#include <katachi/kernels/max_pool2d.hpp>
#include <katachi/kernels/relu.hpp>
#include <katachi/kernels/tensor_view.hpp>
#include <katachi/ops/op.hpp>
#include <katachi/ops/pooling.hpp>

namespace katachi::ops {

struct max_pool2d_options {
    size2 kernel_size = 2;
    size2 stride = 0;  // 0: the kernel size
    size2 padding = 0;
    size2 dilation = 1;
    bool ceil_mode = false;
};

struct max_pool2d : op_defaults {
    using options_type = max_pool2d_options;
    static constexpr const char* name = "max_pool2d";

    static constexpr text spelling(const max_pool2d_options& o) {
        text t;
        t << "max_pool2d<" << o.kernel_size.h;
        if (o.kernel_size.w != o.kernel_size.h) t << ", " << o.kernel_size.w;
        detail::spell_pair(t, "stride", o.stride == size2(0) ? o.kernel_size : o.stride, o.kernel_size);
        detail::spell_pair(t, "padding", o.padding, 0);
        detail::spell_pair(t, "dilation", o.dilation, 1);
        if (o.ceil_mode) t << ", ceil_mode<true>";
        return t << '>';
    }

    static constexpr rule output_shape(const max_pool2d_options& o, const dims& in) {
        return detail::pool2d_rule(in, o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode);
    }

    static constexpr kernels::max_pool2d_options kernel_options(const max_pool2d_options& o) {
        return {.kernel_size = o.kernel_size.array(),
                .stride = (o.stride == size2(0) ? o.kernel_size : o.stride).array(),
                .padding = o.padding.array(),
                .dilation = o.dilation.array(),
                .ceil_mode = o.ceil_mode};
    }
    // The 2x2 pooling of stride 2 keeps window positions (bytes), the others flat indices.
    static constexpr bool keeps_positions(const max_pool2d_options& o) {
        const auto k = kernel_options(o);
        return kernels::detail::is_plain_2x2(k, k.stride);
    }
    static constexpr std::size_t index_size(const max_pool2d_options& o, const dims& in, std::size_t batch) {
        const rule r = output_shape(o, in);
        const std::size_t n = batch * r.out.size();
        return keeps_positions(o) ? (n + 7) / 8 : n;
    }
    static constexpr std::size_t inference_index_size(const max_pool2d_options&, const dims&, std::size_t) {
        return 0;
    }

    template <class T>
    static void forward(const max_pool2d_options& o, const dims& in, const call<T>& c);

    template <class T>
    static void backward(const max_pool2d_options& o, const dims& in, const call<T>& c);

    // With a relu taken in: c.x[0] is the relu's input, c.dx[0] its gradient.
    static constexpr bool takes_in_relu = true;
    template <class T>
    static void forward_after_relu(const max_pool2d_options& o, const dims& in, const call<T>& c);
    template <class T>
    static void backward_through_relu(const max_pool2d_options& o, const dims& in, const call<T>& c);

private:
    template <class T>
    static void unpool(const max_pool2d_options& o, const dims& in, const call<T>& c, bool masked);
};

// Defined after the struct (not inline), so that the float and double instances declared extern
// under KATACHI_EXTERN_KERNELS (katachi/instances.hpp) are not compiled in each file.
template <class T>
void max_pool2d::forward(const max_pool2d_options& o, const dims& in, const call<T>& c) {
    const dims out = output_shape(o, in).out;
    const std::array<std::size_t, 4> x{c.batch, in[0], in[1], in[2]};
    std::int64_t* at = c.backward_follows ? c.indices : nullptr;
    if (keeps_positions(o))
        kernels::detail::max_pool2d_run(c.x[0], c.y, reinterpret_cast<std::uint8_t*>(at), x, out[1], out[2],
                                        kernel_options(o));
    else
        kernels::detail::max_pool2d_run(c.x[0], c.y, at, x, out[1], out[2], kernel_options(o));
}

template <class T>
void max_pool2d::backward(const max_pool2d_options& o, const dims& in, const call<T>& c) {
    unpool(o, in, c, false);
}

template <class T>
void max_pool2d::forward_after_relu(const max_pool2d_options& o, const dims& in, const call<T>& c) {
    forward(o, in, c);
    const dims out = output_shape(o, in).out;
    kernels::tensor_view<T, 1> y(c.y, {c.batch * out.size()});
    kernels::relu_forward(y, y);
}

template <class T>
void max_pool2d::backward_through_relu(const max_pool2d_options& o, const dims& in, const call<T>& c) {
    unpool(o, in, c, true);
}

template <class T>
void max_pool2d::unpool(const max_pool2d_options& o, const dims& in, const call<T>& c, bool masked) {
    if (!c.dx[0]) return;
    const dims out = output_shape(o, in).out;
    const std::array<std::size_t, 4> ys{c.batch, out[0], out[1], out[2]};
    const kernels::tensor_view<const T, 4> dy(c.dy, ys), mask(c.y, ys);
    const kernels::tensor_view<T, 4> dx(c.dx[0], {c.batch, in[0], in[1], in[2]});
    const auto run = [&](const auto& indices) {
        if (masked)
            kernels::max_pool2d_backward(dy, indices, dx, c.dx_mode[0], mask);
        else
            kernels::max_pool2d_backward(dy, indices, dx, c.dx_mode[0]);
    };
    if (keeps_positions(o))
        run(kernels::tensor_view<const std::uint8_t, 4>(reinterpret_cast<const std::uint8_t*>(c.indices),
                                                        ys));
    else
        run(kernels::tensor_view<const std::int64_t, 4>(c.indices, ys));
}

}  // namespace katachi::ops
