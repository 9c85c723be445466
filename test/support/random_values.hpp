// test/support/random_values.hpp: n values uniform in [-1, 1) from a seed, for tests that compare
// products against a reference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace katachi::test {

template <class T>
std::vector<T> random_values(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<T> v(n);
    for (T& x : v) x = static_cast<T>(u(rng));
    return v;
}

}  // namespace katachi::test
