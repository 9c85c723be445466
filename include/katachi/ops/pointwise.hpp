// katachi/ops/pointwise.hpp: sqrt, abs, exp, log, pow (a number for exponent) and clamp, each
// defined once over kernels/pointwise.hpp. sqrt and exp read their output in the backward, the
// others their input. The eager face applies them to a tensor of any shape (eager::sqrt, ...).
#pragma once

#include <optional>

#include <katachi/kernels/pointwise.hpp>
#include <katachi/ops/elementwise.hpp>

namespace katachi::ops {

struct no_options {};

struct sqrt : elementwise_op {
    using options_type = no_options;
    static constexpr const char* name = "sqrt";
    static constexpr bool backward_reads_input = false;
    static constexpr bool backward_reads_output = true;
    static constexpr text spelling(const no_options&) { return "sqrt"; }
    template <class T>
    static void forward(const no_options&, const dims& in, const call<T>& c) {
        kernels::sqrt_forward(flat(c.x[0], c.batch, in), flat(c.y, c.batch, in));
    }
    template <class T>
    static void backward(const no_options&, const dims& in, const call<T>& c) {
        if (c.dx[0])
            kernels::sqrt_backward(flat<const T>(c.y, c.batch, in), flat(c.dy, c.batch, in),
                                   flat(c.dx[0], c.batch, in), c.dx_mode[0]);
    }
};

struct abs : elementwise_op {
    using options_type = no_options;
    static constexpr const char* name = "abs";
    static constexpr text spelling(const no_options&) { return "abs"; }
    template <class T>
    static void forward(const no_options&, const dims& in, const call<T>& c) {
        kernels::abs_forward(flat(c.x[0], c.batch, in), flat(c.y, c.batch, in));
    }
    template <class T>
    static void backward(const no_options&, const dims& in, const call<T>& c) {
        if (c.dx[0])
            kernels::abs_backward(flat(c.x[0], c.batch, in), flat(c.dy, c.batch, in), flat(c.dx[0], c.batch, in),
                                  c.dx_mode[0]);
    }
};

struct exp : elementwise_op {
    using options_type = no_options;
    static constexpr const char* name = "exp";
    static constexpr bool backward_reads_input = false;
    static constexpr bool backward_reads_output = true;
    static constexpr text spelling(const no_options&) { return "exp"; }
    template <class T>
    static void forward(const no_options&, const dims& in, const call<T>& c) {
        kernels::exp_forward(flat(c.x[0], c.batch, in), flat(c.y, c.batch, in));
    }
    template <class T>
    static void backward(const no_options&, const dims& in, const call<T>& c) {
        if (c.dx[0])
            kernels::exp_backward(flat<const T>(c.y, c.batch, in), flat(c.dy, c.batch, in),
                                  flat(c.dx[0], c.batch, in), c.dx_mode[0]);
    }
};

struct log : elementwise_op {
    using options_type = no_options;
    static constexpr const char* name = "log";
    static constexpr text spelling(const no_options&) { return "log"; }
    template <class T>
    static void forward(const no_options&, const dims& in, const call<T>& c) {
        kernels::log_forward(flat(c.x[0], c.batch, in), flat(c.y, c.batch, in));
    }
    template <class T>
    static void backward(const no_options&, const dims& in, const call<T>& c) {
        if (c.dx[0])
            kernels::log_backward(flat(c.x[0], c.batch, in), flat(c.dy, c.batch, in), flat(c.dx[0], c.batch, in),
                                  c.dx_mode[0]);
    }
};

struct pow_options {
    real exponent = 1.0;
};

struct pow : elementwise_op {
    using options_type = pow_options;
    static constexpr const char* name = "pow";
    static constexpr text spelling(const pow_options& o) { return text() << "pow(" << o.exponent.value() << ")"; }
    template <class T>
    static void forward(const pow_options& o, const dims& in, const call<T>& c) {
        kernels::pow_forward(flat(c.x[0], c.batch, in), flat(c.y, c.batch, in), o.exponent.value());
    }
    template <class T>
    static void backward(const pow_options& o, const dims& in, const call<T>& c) {
        if (c.dx[0])
            kernels::pow_backward(flat(c.x[0], c.batch, in), flat(c.dy, c.batch, in), flat(c.dx[0], c.batch, in),
                                  o.exponent.value(), c.dx_mode[0]);
    }
};

// PyTorch's clamp(min=None, max=None); at least one bound is given (the eager form checks).
struct clamp_options {
    optional_real min = std::nullopt;
    optional_real max = std::nullopt;
};

struct clamp : elementwise_op {
    using options_type = clamp_options;
    static constexpr const char* name = "clamp";
    static constexpr text spelling(const clamp_options&) { return "clamp"; }
    template <class T>
    static void forward(const clamp_options& o, const dims& in, const call<T>& c) {
        kernels::clamp_forward(flat(c.x[0], c.batch, in), flat(c.y, c.batch, in), o.min.has_value(), o.min.value(),
                               o.max.has_value(), o.max.value());
    }
    template <class T>
    static void backward(const clamp_options& o, const dims& in, const call<T>& c) {
        if (c.dx[0])
            kernels::clamp_backward(flat(c.x[0], c.batch, in), flat(c.dy, c.batch, in), flat(c.dx[0], c.batch, in),
                                    o.min.has_value(), o.min.value(), o.max.has_value(), o.max.value(),
                                    c.dx_mode[0]);
    }
};

}  // namespace katachi::ops
