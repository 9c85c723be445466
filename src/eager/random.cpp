// The default generator and random tensors.
#include "katachi/eager/random.hpp"

namespace katachi::eager {

generator& default_generator() noexcept {
    thread_local generator gen(0);
    return gen;
}

void manual_seed(std::uint64_t seed) noexcept {
    default_generator() = generator(seed);
}

template <class T>
basic_tensor<T> rand(const sizes& shape, T lo, T hi, generator* gen) {
    generator& g = gen ? *gen : default_generator();
    basic_tensor<T> t = basic_tensor<T>::empty(shape);
    for (T& v : t.value_span()) v = g.uniform<T>(lo, hi);
    return t;
}

template <class T>
basic_tensor<T> randn(const sizes& shape, T mean, T stddev, generator* gen) {
    generator& g = gen ? *gen : default_generator();
    basic_tensor<T> t = basic_tensor<T>::empty(shape);
    for (T& v : t.value_span()) v = g.normal<T>(mean, stddev);
    return t;
}

template basic_tensor<float> rand(const sizes&, float, float, generator*);
template basic_tensor<double> rand(const sizes&, double, double, generator*);
template basic_tensor<float> randn(const sizes&, float, float, generator*);
template basic_tensor<double> randn(const sizes&, double, double, generator*);

}  // namespace katachi::eager
