// katachi/ops/op.hpp: what every op definition is made of.
//
// An op (katachi/ops/<op>.hpp) is defined once, for both faces:
//
//   struct linear_options { ... };          its options, an aggregate with PyTorch's names; usable
//                                           as a value (eager) and as a template argument (graph)
//   struct linear {
//       using options_type = linear_options;
//       static constexpr rule output_shape(const options_type&, const dims& in);   the shape rule
//       static constexpr ... parameters(options, in), buffers(options, in);        names, shapes
//       template <class T> static void reset(...);                                PyTorch's init
//       template <class T> static void forward(...), backward(...);               the kernel calls
//   };
//
// The graph face evaluates the shape rule at compile time (graph/layers/op_layer.hpp) and the
// eager face at run time (eager/modules/*.cpp), so a mistake reads the same in both. This header
// holds the pieces they are written with: a per-sample shape (dims), a sentence built in constant
// expressions (text), a rule's verdict (rule), and option values that can be template arguments
// (real, optional_real, size2).
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>

#include <katachi/kernels/common.hpp>
#include <katachi/random.hpp>

namespace katachi::ops {

// ---------------------------------------------------------------------------------------------
// A per-sample shape: the sizes after the batch dimension. Prints as [64, 7, 7].
// ---------------------------------------------------------------------------------------------
inline constexpr std::size_t max_rank = 6;

struct dims {
    std::size_t rank = 0;
    std::array<std::size_t, max_rank> d{};

    constexpr dims() = default;
    constexpr dims(std::initializer_list<std::size_t> sizes) {
        for (std::size_t s : sizes)
            if (rank < max_rank) d[rank++] = s;
    }
    template <std::size_t N>
    static constexpr dims of(const std::array<std::size_t, N>& a) {
        static_assert(N <= max_rank);
        dims r;
        r.rank = N;
        for (std::size_t i = 0; i < N; ++i) r.d[i] = a[i];
        return r;
    }

    constexpr std::size_t operator[](std::size_t i) const { return d[i]; }
    constexpr std::size_t& operator[](std::size_t i) { return d[i]; }
    constexpr std::size_t back() const { return d[rank - 1]; }
    constexpr std::size_t size() const {  // element count
        std::size_t n = 1;
        for (std::size_t i = 0; i < rank; ++i) n *= d[i];
        return n;
    }
    friend constexpr bool operator==(const dims& a, const dims& b) {
        if (a.rank != b.rank) return false;
        for (std::size_t i = 0; i < a.rank; ++i)
            if (a.d[i] != b.d[i]) return false;
        return true;
    }
};

// ---------------------------------------------------------------------------------------------
// A sentence built in a constant expression: fixed room, no heap. Longer text is cut.
// ---------------------------------------------------------------------------------------------
struct text {
    static constexpr std::size_t capacity = 300;
    char chars[capacity + 1]{};
    std::size_t length = 0;

    constexpr text() = default;
    constexpr text(const char* s) { *this << s; }  // NOLINT: implicit, so a literal is a text

    constexpr text& operator<<(std::string_view s) {
        for (char c : s)
            if (length < capacity) chars[length++] = c;
        return *this;
    }
    constexpr text& operator<<(const char* s) { return *this << std::string_view(s); }
    constexpr text& operator<<(char c) { return *this << std::string_view(&c, 1); }
    constexpr text& operator<<(const text& t) { return *this << t.view(); }
    constexpr text& operator<<(std::size_t v) {
        char digits[24]{};
        std::size_t n = 0;
        do {
            digits[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (n > 0) *this << digits[--n];
        return *this;
    }
    constexpr text& operator<<(int v) {
        if (v < 0) *this << '-';
        return *this << static_cast<std::size_t>(v < 0 ? -static_cast<long long>(v) : v);
    }
    constexpr text& operator<<(bool v) { return *this << (v ? "true" : "false"); }
    // Six significant digits, as printf's %g writes them: 0.1, 1e-05, 0.001, 2.5.
    constexpr text& operator<<(double v) {
        if (v != v) return *this << "nan";
        if (v < 0) (*this << '-'), v = -v;
        if (v > 1.7e308) return *this << "inf";
        if (v == 0) return *this << '0';
        int exponent = 0;
        while (v >= 10) v /= 10, ++exponent;
        while (v < 1) v *= 10, --exponent;
        std::size_t digits = static_cast<std::size_t>(v * 100000 + 0.5);  // six digits, d.ddddd
        if (digits >= 1000000) digits /= 10, ++exponent;
        char m[6]{};
        for (int i = 5; i >= 0; --i) m[i] = static_cast<char>('0' + digits % 10), digits /= 10;
        int last = 5;
        while (last > 0 && m[last] == '0') --last;
        if (exponent < -4 || exponent >= 6) {
            *this << m[0];
            if (last > 0) *this << '.' << std::string_view(m + 1, static_cast<std::size_t>(last));
            *this << 'e' << (exponent < 0 ? '-' : '+');
            const int e = exponent < 0 ? -exponent : exponent;
            if (e < 10) *this << '0';
            return *this << static_cast<std::size_t>(e);
        }
        if (exponent < 0) {
            *this << "0.";
            for (int i = -1; i > exponent; --i) *this << '0';
            return *this << std::string_view(m, static_cast<std::size_t>(last + 1));
        }
        for (int i = 0; i <= last || i <= exponent; ++i) {
            if (i == exponent + 1) *this << '.';
            *this << (i < 6 ? m[i] : '0');
        }
        return *this;
    }
    constexpr text& operator<<(const dims& s) {
        *this << '[';
        for (std::size_t i = 0; i < s.rank; ++i) {
            if (i) *this << ", ";
            *this << s.d[i];
        }
        return *this << ']';
    }
    constexpr std::string_view view() const { return {chars, length}; }
    constexpr bool empty() const { return length == 0; }
};

// ---------------------------------------------------------------------------------------------
// A shape rule's verdict: the output's per-sample shape, or the sentence that says why not.
// The sentence does not name the op or where it sits: each face puts that before it
// (`node "3", linear<10>: ...`, `features.3 (linear): ...`).
// ---------------------------------------------------------------------------------------------
struct rule {
    dims out{};
    text why{};
    constexpr rule(const dims& o) : out(o) {}  // NOLINT: implicit, so a rule returns its shape
    constexpr rule(const text& t) : why(t) {}  // NOLINT: and its refusal
    constexpr bool ok() const { return why.empty(); }
};

// ---------------------------------------------------------------------------------------------
// Option values that can be template arguments (clang 14 takes no floating-point ones).
// ---------------------------------------------------------------------------------------------

// A double kept as its bits.
struct real {
    std::uint64_t bits = 0;
    constexpr real(double v) : bits(std::bit_cast<std::uint64_t>(v)) {}  // NOLINT: reads as a double
    constexpr double value() const { return std::bit_cast<double>(bits); }
    constexpr operator double() const { return value(); }  // NOLINT
    friend constexpr bool operator==(real a, real b) { return a.bits == b.bits; }
};

// A double or None (PyTorch's momentum=None).
struct optional_real {
    real v = 0.0;
    bool engaged = true;
    constexpr optional_real(double x) : v(x) {}                          // NOLINT
    constexpr optional_real(std::nullopt_t) : v(0.0), engaged(false) {}  // NOLINT
    constexpr bool has_value() const { return engaged; }
    constexpr double value() const { return v.value(); }
    friend constexpr bool operator==(optional_real a, optional_real b) {
        return a.engaged == b.engaged && (!a.engaged || a.v == b.v);
    }
};

// A size per spatial dimension (height, width); one number stands for both, as in PyTorch.
struct size2 {
    std::size_t h = 0, w = 0;
    constexpr size2() = default;
    constexpr size2(std::size_t both) : h(both), w(both) {}  // NOLINT: one number for both
    constexpr size2(std::size_t height, std::size_t width) : h(height), w(width) {}
    constexpr std::array<std::size_t, 2> array() const { return {h, w}; }
    constexpr std::size_t operator[](std::size_t i) const { return i == 0 ? h : w; }
    friend constexpr bool operator==(size2, size2) = default;
};

// How a convolution pads (PyTorch's padding_mode).
enum class padding_mode { zeros, reflect, replicate, circular };

constexpr const char* name_of(padding_mode m) {
    switch (m) {
        case padding_mode::zeros:
            return "zeros";
        case padding_mode::reflect:
            return "reflect";
        case padding_mode::replicate:
            return "replicate";
        case padding_mode::circular:
            return "circular";
    }
    return "?";
}

// ---------------------------------------------------------------------------------------------
// A parameter or buffer: its PyTorch name and shape.
// ---------------------------------------------------------------------------------------------
struct tensor_spec {
    const char* name = "";
    std::size_t rank = 0;
    std::array<std::size_t, 4> dims{};

    constexpr std::size_t size() const {
        std::size_t n = 1;
        for (std::size_t i = 0; i < rank; ++i) n *= dims[i];
        return n;
    }
};

// Up to four of them; the count depends on the options (bias=false drops one).
struct tensor_specs {
    std::array<tensor_spec, 4> items{};
    std::size_t count = 0;

    constexpr tensor_specs() = default;
    constexpr tensor_specs(std::initializer_list<tensor_spec> specs) {
        for (const tensor_spec& s : specs) items[count++] = s;
    }
    constexpr void add(const tensor_spec& s) { items[count++] = s; }
    constexpr const tensor_spec* begin() const { return items.data(); }
    constexpr const tensor_spec* end() const { return items.data() + count; }
    constexpr std::size_t total() const {
        std::size_t n = 0;
        for (std::size_t i = 0; i < count; ++i) n += items[i].size();
        return n;
    }
};

// ---------------------------------------------------------------------------------------------
// What an op's forward and backward are given: pointers, for one call over a batch. The graph face
// points them into its arena, the eager face at its tensors' storage. Parameters and buffers are
// in the order parameters() and buffers() list them.
// ---------------------------------------------------------------------------------------------
template <class T>
struct call {
    std::size_t batch = 0;
    bool training = false;
    bool backward_follows = true;      // false: a forward may skip what only a backward reads
    std::array<const T*, 2> x{};       // inputs (a second for ops of two)
    T* y = nullptr;                    // output
    std::array<const T*, 4> params{};  // null where the options drop one (bias=false)
    std::array<T*, 4> buffers{};
    std::int64_t* batches_tracked = nullptr;
    T* saved = nullptr;               // saved_size(batch) elements from forward to backward
    std::int64_t* indices = nullptr;  // index_size(batch) elements from forward to backward
    T* workspace = nullptr;           // workspace_size(batch) elements, valid during one call
    generator* gen = nullptr;
    // The op's prepared_size() elements its prepare() made from params (a runner that keeps its
    // weights, inference_model), or null: the op then derives what it needs from params itself.
    const T* prepared = nullptr;
    // Backward only.
    const T* dy = nullptr;
    std::array<T*, 2> dx{};  // null: that input's gradient is not needed
    std::array<kernels::write, 2> dx_mode{kernels::write::overwrite, kernels::write::overwrite};
    std::array<T*, 4> dparams{};  // null: that parameter's gradient is not needed
    kernels::write dparams_mode = kernels::write::overwrite;
};

// PyTorch's default initialisation of a weight of `weight_count` elements with `fan_in` inputs per
// output (kaiming_uniform with a = sqrt(5), which is uniform in +-1 / sqrt(fan_in)) and of its bias
// (the same bound; bias may be null), drawn in that order.
template <class T>
void uniform_weight_and_bias(T* weight, std::size_t weight_count, T* bias, std::size_t bias_count,
                             std::size_t fan_in, generator& gen) {
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    for (std::size_t i = 0; i < weight_count; ++i)
        weight[i] = static_cast<T>(gen.uniform<double>(-bound, bound));
    if (bias)
        for (std::size_t i = 0; i < bias_count; ++i)
            bias[i] = static_cast<T>(gen.uniform<double>(-bound, bound));
}

// Calls run(dweight, dbias) with a view or kernels::none for each, as the call asks for the
// parameters' gradients (params 0 and 1); not at all when it asks for neither.
template <class T, class MakeW, class MakeB, class Run>
void with_param_grads(const call<T>& c, MakeW&& dweight, MakeB&& dbias, Run&& run) {
    if (c.dparams[0] && c.dparams[1])
        run(dweight(), dbias());
    else if (c.dparams[0])
        run(dweight(), kernels::none);
    else if (c.dparams[1])
        run(kernels::none, dbias());
}

// What an op has when it does not say otherwise: an op derives from it and hides what it needs.
struct op_defaults {
    // What a backward reads besides dy and the parameters: the inputs (most ops), the output (relu,
    // sigmoid, tanh); the eager face keeps only these in the tape.
    static constexpr bool backward_reads_input = true;
    static constexpr bool backward_reads_output = false;
    // Whether the op maps each element alone (ops/elementwise.hpp): the eager face then takes any
    // shape, not only a batch.
    static constexpr bool elementwise = false;
    static constexpr tensor_specs parameters(const auto&) { return {}; }
    static constexpr tensor_specs buffers(const auto&) { return {}; }
    static constexpr bool tracks_batches(const auto&) { return false; }  // a num_batches_tracked
    // Elements kept from forward to backward, of T and of int64, and scratch of T, for a batch;
    // called (options, input dims..., batch).
    static constexpr std::size_t saved_size(const auto&...) { return 0; }
    static constexpr std::size_t index_size(const auto&...) { return 0; }
    static constexpr std::size_t workspace_size(const auto&...) { return 0; }
    // Whether a backward reads the buffers as the forward left them (the eager face then keeps a
    // copy in the tape's node; a training step that only moves them needs none).
    static constexpr bool backward_reads_buffers(const auto&, bool /*training*/) { return false; }
    // The options with what the inputs fix filled in (in_features, in_channels, num_features).
    static constexpr auto bound(const auto& o, const auto&...) { return o; }
    template <class T>
    static void reset(const auto&, const std::array<T*, 4>&, const std::array<T*, 4>&, generator&) {}
};

}  // namespace katachi::ops
