// katachi/kernels/elementwise.hpp: the loops shared by elementwise kernels (activations, losses).
//
// An elementwise forward maps every element of x to the same element of y; y may alias x (in-place
// use). An elementwise backward maps (saved value, incoming gradient) to the gradient of the input;
// the saved value is the input x or the output y, whichever the derivative is cheaper to write in.
// Both validate shapes with the kernel contract of common.hpp and run a plain loop on raw pointers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <katachi/kernels/common.hpp>
#include <katachi/parallel.hpp>

namespace katachi::kernels::detail {

// The scalar type of a container, through references and const.
template <class E>
using value_t = typename std::remove_cvref_t<E>::value_type;

// Accumulator for sums over many elements: double for float, the type itself otherwise.
template <class T>
using accumulator_t = std::conditional_t<(sizeof(T) < sizeof(double)), double, T>;

// A container of float or double elements satisfying the kernel contract.
template <class E>
concept real_tensor = tensor_like<std::remove_cvref_t<E>> && std::is_floating_point_v<value_t<E>>;

// An input of scalar T (an incoming gradient, a regression target).
template <class E, class T>
concept input_of = real_tensor<E> && std::is_same_v<value_t<E>, T>;

// A forward output of scalar T.
template <class E, class T>
concept output_of =
    real_tensor<E> && std::is_same_v<value_t<E>, T> && !std::is_const_v<std::remove_reference_t<E>>;

// A gradient output of scalar T, or `none` when the caller does not need it.
template <class E, class T>
concept gradient_of = is_none_v<E> || output_of<E, T>;

// A tensor of int64 class indices (targets of the classification losses).
template <class E>
concept index_tensor = tensor_like<std::remove_cvref_t<E>> && std::is_same_v<value_t<E>, std::int64_t>;

// The scalar of a gradient output; double for `none`, whose backward computes nothing.
template <class E>
struct gradient_scalar {
    using type = value_t<E>;
};
template <class E>
requires is_none_v<E>
struct gradient_scalar<E> {
    using type = double;
};
template <class E>
using gradient_scalar_t = typename gradient_scalar<E>::type;

// y[i] = f(x[i]); y may alias x.
template <class X, class Y, class F>
void map_forward(const char* op, const X& x, Y& y, F f) {
    require_same_shape(op, "x", x, "y", y);
    const auto* xp = data_of(x);
    auto* yp = data_of(y);
    const std::size_t n = x.size();
    katachi::detail::parallel_for(n, katachi::detail::parallel_parts(n, n),
                                  [&](std::size_t begin, std::size_t end, unsigned) {
                                      for (std::size_t i = begin; i < end; ++i) yp[i] = f(xp[i]);
                                  });
}

// dx[i] (=|+=) f(saved[i], dy[i]); nothing at all when dx is `none`.
template <class S, class DY, class DX, class F>
void map_backward(const char* op, const char* saved_name, const S& saved, const DY& dy, DX& dx, write mode,
                  F f) {
    if constexpr (!is_none_v<DX>) {
        require_same_shape(op, saved_name, saved, "dy", dy);
        require_same_shape(op, saved_name, saved, "dx", dx);
        const auto* sp = data_of(saved);
        const auto* dyp = data_of(dy);
        auto* dxp = data_of(dx);
        const std::size_t n = saved.size();
        katachi::detail::parallel_for(n, katachi::detail::parallel_parts(n, n),
                                      [&](std::size_t begin, std::size_t end, unsigned) {
                                          if (mode == write::accumulate)
                                              for (std::size_t i = begin; i < end; ++i) dxp[i] += f(sp[i], dyp[i]);
                                          else
                                              for (std::size_t i = begin; i < end; ++i) dxp[i] = f(sp[i], dyp[i]);
                                      });
    }
}

}  // namespace katachi::kernels::detail
