// katachi/graph/layer.hpp: the layer contract of the graph face, and what layers share.
//
// A layer is a type, e.g. linear<128> or conv2d<32, 3, padding<1>>. It has
//
//   static std::string name();                       how it prints: "linear<128>"
//   static constexpr auto infer(In...);              its shape rule: given the per-sample shapes of
//                                                    its inputs (values of shape<D...>), an output
//                                                    shape<...>{} or rejected<layer, In, expected>{}
//   template <class... In> struct bind;              the layer at those input shapes:
//
//     using output_shape = shape<...>;
//     static constexpr std::array<tensor_spec, P> parameters;  names and shapes ("weight", "bias")
//     static constexpr std::array<tensor_spec, B> buffers;     non-trained state ("running_mean")
//     static constexpr bool tracks_batches;                    owns a num_batches_tracked counter
//     static constexpr std::size_t saved_size(batch), index_size(batch);
//                                                    elements of T and of int64 it keeps from its
//                                                    forward to its backward (masks, indices, ...;
//                                                    bytes may be packed 8 to an int64);
//                                                    a forward with !backward_follows may skip them
//     static constexpr std::size_t inference_index_size(batch);   optional: the int64 elements it
//                                                    needs then (index_size when not given)
//     static constexpr std::size_t workspace_size(batch);   temporary elements of T (im2col)
//     template <class T> static void reset(T* params, T* buffers, generator&);
//     template <class T> static void forward(const layer_args<T>&);
//     template <class T> static void backward(const layer_args<T>&);
//
// bind_defaults supplies the members a layer does not need (no parameters, no state, no scratch).
// The backward sits in the same header as the forward it undoes. examples/custom_layer.cpp writes
// one from scratch.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <katachi/diagnostics.hpp>
#include <katachi/kernels/common.hpp>
#include <katachi/kernels/tensor_view.hpp>
#include <katachi/ops/op.hpp>
#include <katachi/parallel.hpp>
#include <katachi/random.hpp>
#include <katachi/shape.hpp>
#include <string>
#include <type_traits>

namespace katachi::graph {

// ---------------------------------------------------------------------------------------------
// Options, written after a layer's required arguments in any order: conv2d<32, 3, padding<1>>.
// ---------------------------------------------------------------------------------------------
template <std::size_t H, std::size_t W = H>
struct stride {
    static constexpr std::array<std::size_t, 2> value{H, W};
};
template <std::size_t H, std::size_t W = H>
struct padding {
    static constexpr std::array<std::size_t, 2> value{H, W};
};
template <std::size_t H, std::size_t W = H>
struct dilation {
    static constexpr std::array<std::size_t, 2> value{H, W};
};
template <std::size_t H, std::size_t W = H>
struct output_padding {
    static constexpr std::array<std::size_t, 2> value{H, W};
};
template <std::size_t G>
struct groups {
    static constexpr std::size_t value = G;
};
template <bool B>
struct bias {
    static constexpr bool value = B;
};
// Pooling: ceil_mode<true>, count_include_pad<false>, divisor_override<N> (PyTorch's options).
template <bool B>
struct ceil_mode {
    static constexpr bool value = B;
};
template <bool B>
struct count_include_pad {
    static constexpr bool value = B;
};
template <std::size_t N>
struct divisor_override {
    static constexpr std::size_t value = N;
};

namespace detail {

template <class Opt, template <std::size_t, std::size_t> class Kind>
inline constexpr bool is_pair_option = false;
template <std::size_t H, std::size_t W, template <std::size_t, std::size_t> class Kind>
inline constexpr bool is_pair_option<Kind<H, W>, Kind> = true;

template <template <std::size_t, std::size_t> class Kind, class Opt>
constexpr void take_pair(std::array<std::size_t, 2>& v) {
    if constexpr (is_pair_option<Opt, Kind>) v = Opt::value;
}

// The value of option Kind among Opts, or `fallback`.
template <template <std::size_t, std::size_t> class Kind, class... Opts>
constexpr std::array<std::size_t, 2> pair_option(std::array<std::size_t, 2> fallback) {
    std::array<std::size_t, 2> v = fallback;
    (take_pair<Kind, Opts>(v), ...);
    return v;
}

template <class Opt>
inline constexpr bool is_groups_option = false;
template <std::size_t G>
inline constexpr bool is_groups_option<groups<G>> = true;
template <class Opt>
inline constexpr bool is_bias_option = false;
template <bool B>
inline constexpr bool is_bias_option<bias<B>> = true;

template <class... Opts>
constexpr std::size_t groups_option() {
    std::size_t g = 1;
    (
        [&] {
            if constexpr (is_groups_option<Opts>) g = Opts::value;
        }(),
        ...);
    return g;
}
template <class... Opts>
constexpr bool bias_option() {
    bool b = true;
    (
        [&] {
            if constexpr (is_bias_option<Opts>) b = Opts::value;
        }(),
        ...);
    return b;
}

template <template <bool> class Kind, class Opt>
inline constexpr bool is_flag_option = false;
template <template <bool> class Kind, bool B>
inline constexpr bool is_flag_option<Kind, Kind<B>> = true;

// The value of the flag option Kind among Opts, or `fallback`.
template <template <bool> class Kind, class... Opts>
constexpr bool flag_option(bool fallback) {
    bool b = fallback;
    (
        [&] {
            if constexpr (is_flag_option<Kind, Opts>) b = Opts::value;
        }(),
        ...);
    return b;
}

template <class Opt>
inline constexpr bool is_divisor_option = false;
template <std::size_t N>
inline constexpr bool is_divisor_option<divisor_override<N>> = true;
template <class... Opts>
constexpr std::size_t divisor_option() {
    std::size_t n = 0;
    (
        [&] {
            if constexpr (is_divisor_option<Opts>) n = Opts::value;
        }(),
        ...);
    return n;
}

// A pair option as the ops' size2.
template <template <std::size_t, std::size_t> class Kind, class... Opts>
constexpr ops::size2 size2_option(std::array<std::size_t, 2> fallback) {
    const auto v = pair_option<Kind, Opts...>(fallback);
    return {v[0], v[1]};
}

// Every option must be one of the above.
template <class Opt>
concept layer_option =
    is_pair_option<Opt, stride> || is_pair_option<Opt, padding> || is_pair_option<Opt, dilation> ||
    is_pair_option<Opt, output_padding> || is_groups_option<Opt> || is_bias_option<Opt> ||
    is_flag_option<ceil_mode, Opt> || is_flag_option<count_include_pad, Opt> || is_divisor_option<Opt>;

// f(begin, end) over the elements of whole samples of `sample` elements each, split by samples over
// the threads (from the elementwise size up, parallel.hpp) as the kernels split a batch: a copy of a
// batch then reads at every core's bandwidth, and mostly what that core made in the node before.
template <class F>
void for_sample_ranges(std::size_t batch, std::size_t sample, F&& f) {
    katachi::detail::parallel_for(
        batch, katachi::detail::parallel_parts(batch, batch * sample),
        [&](std::size_t n0, std::size_t n1, unsigned) { f(n0 * sample, n1 * sample); });
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Tensor descriptions: a name and a shape, for parameters, buffers and state dicts.
// ---------------------------------------------------------------------------------------------
using ops::tensor_spec;  // a name and a shape (katachi/ops/op.hpp)

template <std::size_t N>
constexpr std::size_t total_size(const std::array<tensor_spec, N>& specs) {
    std::size_t n = 0;
    for (const tensor_spec& s : specs) n += s.size();
    return n;
}

// ---------------------------------------------------------------------------------------------
// What a layer's forward and backward see: pointers into the model's memory for one node.
// ---------------------------------------------------------------------------------------------
template <class T>
struct layer_args {
    std::size_t batch = 0;
    bool training = false;
    bool backward_follows = true;  // false in inference_model: a forward may skip what only a backward reads
    std::array<const T*, 2> x{};   // inputs (a second one for add and concat)
    T* y = nullptr;                // output
    const T* params = nullptr;     // the layer's parameters, in the order of bind::parameters
    T* buffers = nullptr;          // the layer's buffers, in the order of bind::buffers
    std::int64_t* batches_tracked = nullptr;
    T* saved = nullptr;               // saved_size(batch) elements kept from forward to backward
    std::int64_t* indices = nullptr;  // index_size(batch) elements kept from forward to backward
    T* workspace = nullptr;           // workspace_size(batch) elements, valid during one call
    generator* gen = nullptr;
    const T* prepared = nullptr;  // bind::prepared_size() elements made by bind::prepare, or null
    // Backward only.
    const T* dy = nullptr;
    std::array<T*, 2> dx{};  // nullptr: that input's gradient is not needed
    std::array<kernels::write, 2> dx_mode{kernels::write::overwrite, kernels::write::overwrite};
    T* dparams = nullptr;  // nullptr: the parameters are frozen
    kernels::write dparams_mode = kernels::write::overwrite;
};

// A batch of per-sample shape S at pointer p, as a view of rank 1 + S::rank that the kernels
// accept (kernels/tensor_view.hpp). No allocation.
template <class S, class P>
auto batch_view(P* p, std::size_t batch) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return kernels::tensor_view<P, 1 + S::rank>(p, {batch, S::dims[I]...});
    }
    (std::make_index_sequence<S::rank>{});
}

// A tensor of fixed dims at p.
template <std::size_t R, class P>
auto fixed_view(P* p, const std::array<std::size_t, R>& dims) {
    return kernels::tensor_view<P, R>(p, dims);
}

// PyTorch's default initialisation of a weight with fan_in inputs per output (kaiming_uniform with
// a = sqrt(5), which is uniform in +-1 / sqrt(fan_in)) and of its bias (the same bound).
template <class T>
void uniform_fill(T* p, std::size_t n, double bound, generator& gen) {
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<T>(gen.uniform<double>(-bound, bound));
}

// ---------------------------------------------------------------------------------------------
// The contract, checked where a layer is bound.
// ---------------------------------------------------------------------------------------------
template <class L>
concept Layer = requires {
    { L::name() } -> std::convertible_to<std::string>;
};

template <class B>
concept BoundLayer = requires(const layer_args<float>& a, float* p, generator& g) {
    typename B::output_shape;
    B::parameters;
    B::buffers;
    { B::tracks_batches } -> std::convertible_to<bool>;
    { B::saved_size(std::size_t{}) } -> std::convertible_to<std::size_t>;
    { B::index_size(std::size_t{}) } -> std::convertible_to<std::size_t>;
    { B::workspace_size(std::size_t{}) } -> std::convertible_to<std::size_t>;
    B::reset(p, p, g);
    B::forward(a);
    B::backward(a);
};

// What a layer has when it does not say otherwise: a bind derives from it and hides what it needs.
struct bind_defaults {
    static constexpr std::array<tensor_spec, 0> parameters{};
    static constexpr std::array<tensor_spec, 0> buffers{};
    static constexpr bool tracks_batches = false;
    static constexpr std::size_t saved_size(std::size_t) { return 0; }
    static constexpr std::size_t index_size(std::size_t) { return 0; }
    static constexpr std::size_t workspace_size(std::size_t) { return 0; }
    template <class T>
    static void reset(T*, T*, generator&) {}
};

}  // namespace katachi::graph
