// test/support/checks.hpp: small helpers the kernel tests share.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <exception>
#include <string>
#include <vector>
#include <xtensor/xarray.hpp>

namespace katachi::test {

// A shape (any container of extents) as a vector, e.g. for random_array.
template <class S>
std::vector<std::size_t> dims(const S& s) {
    return {s.begin(), s.end()};
}

// The largest elementwise difference of two arrays of the same shape.
inline double max_abs_diff(const xt::xarray<double>& a, const xt::xarray<double>& b) {
    REQUIRE(a.shape() == b.shape());
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
    return m;
}

// The message of the exception of type E (any std::exception by default) that f throws, or
// "no exception"; an exception of another type propagates.
template <class E = std::exception, class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "no exception";
}

}  // namespace katachi::test
