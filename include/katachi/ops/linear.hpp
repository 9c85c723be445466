// katachi/ops/linear.hpp: the fully connected layer, y = x w^T + b (torch.nn.Linear), defined once
// for both faces.
//
// Per sample [*, in_features] -> [*, out_features]. weight [out, in], bias [out], both uniform in
// +-1 / sqrt(in) (PyTorch's kaiming_uniform with a = sqrt(5), and its bias bound). in_features = 0
// means "deduced from the input": the graph face and lazy_linear. The graph face deduces it from a
// flat per-sample shape only (deduce_rule): a linear after a convolution without flatten is the
// mistake it most often catches.
#pragma once

#include <algorithm>
#include <cmath>
#include <katachi/kernels/linear.hpp>
#include <katachi/kernels/tensor_view.hpp>
#include <katachi/ops/op.hpp>
#include <katachi/random.hpp>

namespace katachi::ops {

struct linear_options {
    std::size_t in_features = 0;  // 0: deduced from the first input (graph face, lazy_linear)
    std::size_t out_features = 0;
    bool bias = true;
};

struct linear : op_defaults {
    using options_type = linear_options;
    static constexpr const char* name = "linear";

    // The graph face's spelling: linear<10>, linear<10, bias<false>>.
    static constexpr text spelling(const linear_options& o) {
        text t;
        t << "linear<" << o.out_features;
        if (!o.bias) t << ", bias<false>";
        if (o.in_features) t << ", in_features " << o.in_features;
        return t << '>';
    }

    static constexpr rule output_shape(const linear_options& o, const dims& in) {
        if (in.rank == 0)
            return text(
                "takes [*, in_features], got a per-sample shape of rank 0 (a scalar): give it "
                "features");
        if (o.in_features != 0 && in.back() != o.in_features)
            return text() << "takes " << o.in_features
                          << " input features in its last dimension, got per-sample shape " << in
                          << ": make the layer before it give " << o.in_features
                          << " features, or change in_features";
        dims out = in;
        out[out.rank - 1] = o.out_features;
        return out;
    }

    // The graph face's rule: in_features is deduced from a flat per-sample shape.
    static constexpr rule deduce_rule(const linear_options& o, const dims& in) {
        if (in.rank != 1)
            return text() << "takes a flat per-sample shape [features], got " << in
                          << ": insert flatten before it";
        return output_shape(o, in);
    }

    static constexpr linear_options bound(linear_options o, const dims& in) {
        o.in_features = in.back();
        return o;
    }

    static constexpr tensor_specs parameters(const linear_options& o) {
        tensor_specs p{{"weight", 2, {o.out_features, o.in_features}}};
        if (o.bias) p.add({"bias", 1, {o.out_features}});
        return p;
    }

    template <class T>
    static void reset(const linear_options& o, const std::array<T*, 4>& p, const std::array<T*, 4>&,
                      generator& gen) {
        uniform_weight_and_bias(p[0], o.out_features * o.in_features, p[1], o.out_features, o.in_features,
                                gen);
    }

    // x [rows, in], rows = the batch times the leading per-sample sizes; y [rows, out]. The bias
    // is written into y first and the product adds onto it.
    template <class T>
    [[gnu::always_inline]] static void forward(const linear_options& o, const dims& in, const call<T>& c) {
        const std::size_t rows = c.batch * (in.size() / in.back());
        const T* bias = c.params[1];
        T beta = T(0);
        if (bias) {
            for (std::size_t i = 0; i < rows; ++i)
                std::copy(bias, bias + o.out_features, c.y + i * o.out_features);
            beta = T(1);
        }
        kernels::detail::gemm(false, true, rows, o.out_features, o.in_features, T(1), c.x[0], c.params[0],
                              beta, c.y);
    }

    // dx = dy w, dw = dy^T x, db = the column sums of dy; each one only where it is asked for.
    template <class T>
    static void backward(const linear_options& o, const dims& in, const call<T>& c);
};

// Defined after the struct (not inline), so that the float and double instances declared extern
// under KATACHI_EXTERN_KERNELS (katachi/instances.hpp) are not compiled in each file.
template <class T>
void linear::backward(const linear_options& o, const dims& in, const call<T>& c) {
    using kernels::tensor_view;
    const std::size_t rows = c.batch * (in.size() / in.back());
    const tensor_view<const T, 2> x(c.x[0], {rows, o.in_features}),
        w(c.params[0], {o.out_features, o.in_features}), dy(c.dy, {rows, o.out_features});
    const auto none = kernels::none;
    if (c.dx[0])
        kernels::linear_backward(x, w, dy, tensor_view<T, 2>(c.dx[0], {rows, o.in_features}), none, none,
                                 c.dx_mode[0]);
    with_param_grads(
        c,
        [&] {
            return tensor_view<T, 2>(c.dparams[0], {o.out_features, o.in_features});
        },
        [&] { return tensor_view<T, 1>(c.dparams[1], {o.out_features}); },
        [&](auto dw, auto db) { kernels::linear_backward(x, w, dy, none, dw, db, c.dparams_mode); });
}

}  // namespace katachi::ops
