// katachi/ops/concat.hpp: two tensors joined along the channels (torch.cat on dimension 1),
// defined once for both faces. Per sample [Ca, *] and [Cb, *] -> [Ca + Cb, *].
#pragma once

#include <katachi/kernels/concat.hpp>
#include <katachi/kernels/tensor_view.hpp>
#include <katachi/ops/op.hpp>

namespace katachi::ops {

struct concat_options {};

struct concat : op_defaults {
    using options_type = concat_options;
    static constexpr const char* name = "concat";
    static constexpr bool backward_reads_input = false;  // its backward reads dy only
    static constexpr text spelling(const concat_options&) { return "concat"; }

    static constexpr rule output_shape(const concat_options&, const dims& a, const dims& b) {
        bool fits = a.rank != 0 && a.rank == b.rank;
        for (std::size_t i = 1; fits && i < a.rank; ++i) fits = a[i] == b[i];
        if (!fits)
            return text() << "joins along the channels, got " << a << " and " << b
                          << ": every input needs the same rank and the same sizes after the channels; "
                             "pool or pad the larger one";
        dims out = a;
        out[0] = a[0] + b[0];
        return out;
    }

    template <class T>
    static void forward(const concat_options&, const dims& a, const dims& b, const call<T>& c) {
        const std::size_t rest = a.size() / a[0];
        using kernels::tensor_view;
        kernels::concat_forward(1, tensor_view<T, 3>(c.y, {c.batch, a[0] + b[0], rest}),
                                tensor_view<const T, 3>(c.x[0], {c.batch, a[0], rest}),
                                tensor_view<const T, 3>(c.x[1], {c.batch, b[0], rest}));
    }

    template <class T>
    static void backward(const concat_options&, const dims& a, const dims& b, const call<T>& c) {
        const std::size_t rest = a.size() / a[0];
        using kernels::tensor_view;
        const tensor_view<const T, 3> dy(c.dy, {c.batch, a[0] + b[0], rest});
        const auto da = [&] { return tensor_view<T, 3>(c.dx[0], {c.batch, a[0], rest}); };
        const auto db = [&] { return tensor_view<T, 3>(c.dx[1], {c.batch, b[0], rest}); };
        if (c.dx[0] && c.dx[1] && c.dx_mode[0] == c.dx_mode[1])
            kernels::concat_backward(1, dy, da(), db(), c.dx_mode[0]);
        else {
            if (c.dx[0]) kernels::concat_backward(1, dy, da(), kernels::none, c.dx_mode[0]);
            if (c.dx[1]) kernels::concat_backward(1, dy, kernels::none, db(), c.dx_mode[1]);
        }
    }
};

}  // namespace katachi::ops
