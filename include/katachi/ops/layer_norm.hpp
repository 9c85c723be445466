// katachi/ops/layer_norm.hpp: layer normalisation over the last dimensions (torch.nn.LayerNorm),
// defined once for both faces.
//
// normalized_shape names the trailing per-sample sizes normalised together (one to four of them):
// {64} for features, {7, 7} for each channel's plane, {C, H, W} for the whole sample. PyTorch's
// options and defaults: eps 1e-5; elementwise_affine (weight 1 and bias 0 of normalized_shape,
// trained). The statistics are each run's own, in training and in evaluation alike.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <katachi/kernels/layer_norm.hpp>
#include <katachi/ops/op.hpp>

namespace katachi::ops {

// Up to four sizes; a template argument like the rest of the options.
struct shape_list {
    std::array<std::size_t, 4> d{};
    std::size_t rank = 0;
    constexpr shape_list() = default;
    constexpr shape_list(std::size_t n) : rank(1) { d[0] = n; }  // NOLINT: {64} or 64
    constexpr shape_list(std::initializer_list<std::size_t> sizes) {
        for (std::size_t s : sizes)
            if (rank < 4) d[rank++] = s;
    }
    constexpr std::size_t size() const {
        std::size_t n = 1;
        for (std::size_t i = 0; i < rank; ++i) n *= d[i];
        return n;
    }
    friend constexpr bool operator==(const shape_list&, const shape_list&) = default;
};

struct layer_norm_options {
    shape_list normalized_shape{};
    real eps = 1e-5;
    bool elementwise_affine = true;
};

struct layer_norm : op_defaults {
    using options_type = layer_norm_options;
    static constexpr const char* name = "layer_norm";

    static constexpr text spelling(const layer_norm_options& o) {
        text t;
        const bool plain = o.eps == real(1e-5) && o.elementwise_affine;
        if (plain) {
            t << "layer_norm<";
            for (std::size_t i = 0; i < o.normalized_shape.rank; ++i) t << (i ? ", " : "") << o.normalized_shape.d[i];
            return t << '>';
        }
        t << "layer<ops::layer_norm, {.normalized_shape = {";
        for (std::size_t i = 0; i < o.normalized_shape.rank; ++i) t << (i ? ", " : "") << o.normalized_shape.d[i];
        t << "}";
        if (!(o.eps == real(1e-5))) t << ", .eps = " << o.eps.value();
        if (!o.elementwise_affine) t << ", .elementwise_affine = false";
        return t << "}>";
    }

    static constexpr rule output_shape(const layer_norm_options& o, const dims& in) {
        const shape_list& s = o.normalized_shape;
        bool fits = s.rank >= 1 && s.rank <= in.rank;
        for (std::size_t i = 0; fits && i < s.rank; ++i) fits = in[in.rank - s.rank + i] == s.d[i];
        if (!fits) {
            text t;
            t << "normalises the last sizes [";
            for (std::size_t i = 0; i < s.rank; ++i) t << (i ? ", " : "") << s.d[i];
            return t << "] (normalized_shape), got per-sample shape " << in
                     << ": make normalized_shape the input's trailing sizes";
        }
        return in;
    }

    static constexpr tensor_specs parameters(const layer_norm_options& o) {
        if (!o.elementwise_affine) return {};
        tensor_spec w{"weight", o.normalized_shape.rank, o.normalized_shape.d};
        tensor_spec b{"bias", o.normalized_shape.rank, o.normalized_shape.d};
        return {w, b};
    }
    // mean and invstd of every normalised run.
    static constexpr std::size_t saved_size(const layer_norm_options& o, const dims& in, std::size_t batch) {
        return 2 * batch * (in.size() / o.normalized_shape.size());
    }

    template <class T>
    static void reset(const layer_norm_options& o, const std::array<T*, 4>& p, const std::array<T*, 4>&,
                      generator&) {
        const std::size_t n = o.normalized_shape.size();
        if (p[0]) std::fill(p[0], p[0] + n, T(1));
        if (p[1]) std::fill(p[1], p[1] + n, T(0));
    }

    template <class T>
    static void forward(const layer_norm_options& o, const dims& in, const call<T>& c) {
        const std::size_t len = o.normalized_shape.size(), rows = c.batch * (in.size() / len);
        kernels::layer_norm_forward(c.x[0], c.y, rows, len, o.eps.value(), c.params[0], c.params[1], c.saved,
                                    c.saved ? c.saved + rows : nullptr);
    }

    template <class T>
    static void backward(const layer_norm_options& o, const dims& in, const call<T>& c) {
        const std::size_t len = o.normalized_shape.size(), rows = c.batch * (in.size() / len);
        kernels::layer_norm_backward(c.x[0], c.params[0], c.saved, c.saved + rows, c.dy, rows, len, c.dx[0],
                                     c.dx_mode[0], c.dparams[0], c.dparams[1], c.dparams_mode);
    }
};

}  // namespace katachi::ops
