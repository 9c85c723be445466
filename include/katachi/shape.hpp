// katachi/shape.hpp: the shape type and the output-size arithmetic of convolution and pooling.
//
// One implementation serves both faces: the graph face evaluates these functions at compile time
// (through the checked `*_output` forms, which report an error code instead of throwing), the eager
// face and the kernels at run time (through the `*_output_size` forms, which throw
// katachi::shape_arithmetic_error with a sentence that names the rule broken).
#pragma once

#include <katachi/error.hpp>
#include <array>
#include <cstddef>
#include <ostream>
#include <stdexcept>
#include <string>

namespace katachi {

// ---------------------------------------------------------------------------------------------
// shape<D...>: a per-sample shape as a type. Prints as `shape<64, 7, 7>`.
// ---------------------------------------------------------------------------------------------
template <std::size_t... D>
struct shape {
    static constexpr std::size_t rank = sizeof...(D);
    static constexpr std::size_t size = (std::size_t{1} * ... * D);  // element count; 1 for rank 0
    static constexpr std::array<std::size_t, sizeof...(D)> dims{D...};

    template <std::size_t... E>
    constexpr bool operator==(shape<E...>) const {
        if constexpr (sizeof...(D) != sizeof...(E)) {
            return false;
        } else {
            return ((D == E) && ...);
        }
    }

    static std::string str() {
        std::string out = "shape<";
        std::size_t i = 0;
        ((out += (i++ ? ", " : "") + std::to_string(D)), ...);
        return out + ">";
    }

    friend std::ostream& operator<<(std::ostream& os, shape) { return os << str(); }
};

template <class T>
inline constexpr bool is_shape_v = false;
template <std::size_t... D>
inline constexpr bool is_shape_v<shape<D...>> = true;

// ---------------------------------------------------------------------------------------------
// Output-size arithmetic with PyTorch's semantics.
// ---------------------------------------------------------------------------------------------

enum class size_error {
    none,
    zero_kernel,               // a kernel size of 0
    zero_stride,               // "non-positive stride is not supported"
    zero_dilation,             // "dilation should be greater than zero"
    kernel_larger_than_input,  // the dilated kernel does not fit in the padded input
    padding_too_large,         // pooling: padding greater than half the kernel size
    output_padding_too_large,  // transposed conv: output_padding >= max(stride, dilation)
    zero_output,               // the arithmetic gives an empty output
    negative_output,           // transposed conv: padding removes more than the output has
    overflow,                  // a size or option so large that the arithmetic overflows
};

constexpr const char* describe(size_error e) {
    switch (e) {
        case size_error::none:
            return "no error";
        case size_error::zero_kernel:
            return "kernel size must be at least 1";
        case size_error::zero_stride:
            return "stride must be at least 1 (a stride of 0 is not supported)";
        case size_error::zero_dilation:
            return "dilation must be at least 1";
        case size_error::kernel_larger_than_input:
            return "the dilated kernel is larger than the padded input";
        case size_error::padding_too_large:
            return "padding must be at most half of the kernel size";
        case size_error::output_padding_too_large:
            return "output_padding must be smaller than either stride or dilation";
        case size_error::zero_output:
            return "the output would be empty";
        case size_error::negative_output:
            return "padding removes more than the output has";
        case size_error::overflow:
            return "the sizes are too large: the arithmetic overflows";
    }
    return "unknown error";
}

// Result of a checked computation: a size, or the rule that was broken.
struct size_result {
    std::size_t value = 0;
    size_error error = size_error::none;
    constexpr bool ok() const { return error == size_error::none; }
};

// Thrown by the run-time forms. what() names the operation, the input, and the rule.
class shape_arithmetic_error : public std::invalid_argument {
public:
    shape_arithmetic_error(const std::string& op, size_error rule, const std::string& detail)
        : std::invalid_argument(op + ": " + describe(rule) + " (" + detail + ")"), rule_(rule) {}
    size_error rule() const noexcept { return rule_; }

private:
    size_error rule_;
};

// One spatial dimension of a convolution (conv1d/conv2d): floor((in + 2p - d(k-1) - 1) / s) + 1.
struct conv_dim {
    std::size_t input;
    std::size_t kernel;
    std::size_t stride = 1;
    std::size_t padding = 0;
    std::size_t dilation = 1;
};

// a * b + c, or false when it overflows (usable in constant expressions).
constexpr bool multiply_add(std::size_t a, std::size_t b, std::size_t c, std::size_t& out) {
    return !__builtin_mul_overflow(a, b, &out) && !__builtin_add_overflow(out, c, &out);
}

constexpr size_result conv_output(conv_dim c) {
    if (c.kernel == 0) return {0, size_error::zero_kernel};
    if (c.stride == 0) return {0, size_error::zero_stride};
    if (c.dilation == 0) return {0, size_error::zero_dilation};
    std::size_t padded = 0, span = 0;
    if (!multiply_add(2, c.padding, c.input, padded) || !multiply_add(c.dilation, c.kernel - 1, 1, span))
        return {0, size_error::overflow};
    if (padded < span) return {0, size_error::kernel_larger_than_input};
    return {(padded - span) / c.stride + 1, size_error::none};
}

// One spatial dimension of max/avg pooling, with ceil_mode as PyTorch defines it: in ceil mode the
// last window must start inside the input or its left padding.
struct pool_dim {
    std::size_t input;
    std::size_t kernel;
    std::size_t stride;  // PyTorch's default is the kernel size; the caller passes it explicitly
    std::size_t padding = 0;
    std::size_t dilation = 1;
    bool ceil_mode = false;
};

constexpr size_result pool_output(pool_dim p) {
    if (p.kernel == 0) return {0, size_error::zero_kernel};
    if (p.stride == 0) return {0, size_error::zero_stride};
    if (p.dilation == 0) return {0, size_error::zero_dilation};
    if (p.padding > p.kernel / 2) return {0, size_error::padding_too_large};
    std::size_t span = 0, padded = 0;
    // In ceil mode a window may hang over the right edge: the numerator gains stride - 1.
    if (!multiply_add(p.dilation, p.kernel - 1, 1, span) || !multiply_add(2, p.padding, p.input, padded) ||
        __builtin_add_overflow(padded, p.ceil_mode ? p.stride - 1 : 0, &padded))
        return {0, size_error::overflow};
    if (padded < span) return {0, size_error::kernel_larger_than_input};
    std::size_t out = (padded - span) / p.stride + 1;
    // In ceil mode the last window must start inside the input or its left padding.
    if (p.ceil_mode && (out - 1) * p.stride >= p.input + p.padding) --out;
    if (out == 0) return {0, size_error::zero_output};
    return {out, size_error::none};
}

// One spatial dimension of a transposed convolution:
// (in - 1) s - 2p + d (k - 1) + output_padding + 1.
struct conv_transpose_dim {
    std::size_t input;
    std::size_t kernel;
    std::size_t stride = 1;
    std::size_t padding = 0;
    std::size_t output_padding = 0;
    std::size_t dilation = 1;
};

constexpr size_result conv_transpose_output(conv_transpose_dim c) {
    if (c.kernel == 0) return {0, size_error::zero_kernel};
    if (c.stride == 0) return {0, size_error::zero_stride};
    if (c.dilation == 0) return {0, size_error::zero_dilation};
    if (c.output_padding >= c.stride && c.output_padding >= c.dilation)
        return {0, size_error::output_padding_too_large};
    if (c.input == 0) return {0, size_error::zero_output};
    std::size_t full = 0, reach = 0, cut = 0;
    if (!multiply_add(c.dilation, c.kernel - 1, c.output_padding + 1, reach) ||
        !multiply_add(c.input - 1, c.stride, reach, full) || !multiply_add(2, c.padding, 0, cut))
        return {0, size_error::overflow};
    if (full <= cut) return {0, size_error::negative_output};
    return {full - cut, size_error::none};
}

// Adaptive pooling window i of `out` over `in` elements: [floor(i in / out), ceil((i+1) in / out)).
struct adaptive_window {
    std::size_t begin;
    std::size_t end;
};
constexpr adaptive_window adaptive_pool_window(std::size_t i, std::size_t in, std::size_t out) {
    return {(i * in) / out, ((i + 1) * in + out - 1) / out};
}

namespace detail {
inline std::string dims_text(std::size_t in, std::size_t k, std::size_t s, std::size_t p, std::size_t d) {
    return "input " + std::to_string(in) + ", kernel " + std::to_string(k) + ", stride " + std::to_string(s) +
           ", padding " + std::to_string(p) + ", dilation " + std::to_string(d);
}
}  // namespace detail

// Run-time forms: the same arithmetic, throwing a sentence on error.
inline std::size_t conv_output_size(const std::string& op, conv_dim c) {
    const size_result r = conv_output(c);
    if (!r.ok())
        KATACHI_THROW(shape_arithmetic_error, op, r.error,
                                     detail::dims_text(c.input, c.kernel, c.stride, c.padding, c.dilation));
    return r.value;
}

inline std::size_t pool_output_size(const std::string& op, pool_dim p) {
    const size_result r = pool_output(p);
    if (!r.ok())
        KATACHI_THROW(shape_arithmetic_error, op, r.error,
                                     detail::dims_text(p.input, p.kernel, p.stride, p.padding, p.dilation) +
                                         (p.ceil_mode ? ", ceil_mode" : ""));
    return r.value;
}

inline std::size_t conv_transpose_output_size(const std::string& op, conv_transpose_dim c) {
    const size_result r = conv_transpose_output(c);
    if (!r.ok())
        KATACHI_THROW(shape_arithmetic_error, op, r.error,
                                     detail::dims_text(c.input, c.kernel, c.stride, c.padding, c.dilation) +
                                         ", output_padding " + std::to_string(c.output_padding));
    return r.value;
}

}  // namespace katachi
