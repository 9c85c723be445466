// katachi/eager/random.hpp: the eager face's default random source, and random tensors.
//
// Default initialisation and dropout draw from one katachi::generator per thread, seeded with 0 at
// start; manual_seed(s) reseeds it, so a program that seeds first builds the same model and the
// same dropout masks on every run and platform. (The values differ from PyTorch's: its generator
// is another algorithm; the distributions are the same.)
#pragma once

#include <cstdint>

#include "katachi/eager/tensor.hpp"
#include "katachi/random.hpp"

namespace katachi::eager {

generator& default_generator() noexcept;
void manual_seed(std::uint64_t seed) noexcept;

// Uniform in [lo, hi) and normal(mean, stddev) tensors from `gen` (the default generator if null).
template <class T = float>
basic_tensor<T> rand(const sizes& shape, T lo = T(0), T hi = T(1), generator* gen = nullptr);
template <class T = float>
basic_tensor<T> randn(const sizes& shape, T mean = T(0), T stddev = T(1), generator* gen = nullptr);

}  // namespace katachi::eager
