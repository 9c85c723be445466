// The maps of one element: sqrt, abs, exp, log, pow with a number and clamp run their ops
// (katachi/ops/pointwise.hpp) through the eager adaptor, as the activations do.
#include <stdexcept>

#include "katachi/eager/functional/arithmetic.hpp"
#include "katachi/ops/pointwise.hpp"
#include "op_apply.hpp"

namespace katachi::eager {

template <class T>
basic_tensor<T> sqrt(const basic_tensor<T>& x) {
    return detail::apply<ops::sqrt, T, 1>({}, {x}, {}, {});
}

template <class T>
basic_tensor<T> abs(const basic_tensor<T>& x) {
    return detail::apply<ops::abs, T, 1>({}, {x}, {}, {});
}

template <class T>
basic_tensor<T> exp(const basic_tensor<T>& x) {
    return detail::apply<ops::exp, T, 1>({}, {x}, {}, {});
}

template <class T>
basic_tensor<T> log(const basic_tensor<T>& x) {
    return detail::apply<ops::log, T, 1>({}, {x}, {}, {});
}

template <class T>
basic_tensor<T> pow(const basic_tensor<T>& x, scalar_of<T> exponent) {
    return detail::apply<ops::pow, T, 1>({.exponent = static_cast<double>(exponent)}, {x}, {}, {});
}

template <class T>
basic_tensor<T> clamp(const basic_tensor<T>& x, std::optional<double> min, std::optional<double> max) {
    if (!min && !max) throw std::invalid_argument("clamp: At least one of 'min' or 'max' must not be None");
    ops::clamp_options o;
    if (min) o.min = *min;
    if (max) o.max = *max;
    return detail::apply<ops::clamp, T, 1>(o, {x}, {}, {});
}

#define KATACHI_POINTWISE_OPS(T)                                                                      \
    template basic_tensor<T> sqrt(const basic_tensor<T>&);                                            \
    template basic_tensor<T> abs(const basic_tensor<T>&);                                             \
    template basic_tensor<T> exp(const basic_tensor<T>&);                                             \
    template basic_tensor<T> log(const basic_tensor<T>&);                                             \
    template basic_tensor<T> pow(const basic_tensor<T>&, T);                                          \
    template basic_tensor<T> clamp(const basic_tensor<T>&, std::optional<double>, std::optional<double>);
KATACHI_POINTWISE_OPS(float)
KATACHI_POINTWISE_OPS(double)
#undef KATACHI_POINTWISE_OPS

}  // namespace katachi::eager
