// test/support/fixtures.hpp: PyTorch reference values made by test/data/make_fixtures.py.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <katachi/io/safetensors.hpp>
#include <string>
#include <xtensor/xarray.hpp>

#ifndef KATACHI_SOURCE_DIR
#error "KATACHI_SOURCE_DIR must name the source tree (set by test/meson.build)"
#endif

namespace katachi::test {

inline std::string data_path(const std::string& file) {
    return std::string(KATACHI_SOURCE_DIR) + "/test/data/" + file;
}

// A fixture file, loaded once per call site that keeps it.
inline io::safetensors_file load_fixture_file(const std::string& file) {
    return io::load_safetensors(data_path(file));
}

template <class T = float>
xt::xarray<T> fixture(const io::safetensors_file& f, const std::string& key) {
    return f.get<T>(key);
}

// PyTorch's comparison rule: |a - e| <= atol + rtol * |e| elementwise, shapes equal.
template <class A, class E>
void require_allclose(const A& actual, const E& expected, double rtol = 1.3e-6, double atol = 1e-5) {
    REQUIRE(actual.dimension() == expected.dimension());
    for (std::size_t i = 0; i < actual.dimension(); ++i) REQUIRE(actual.shape()[i] == expected.shape()[i]);
    std::size_t bad = 0;
    double worst = 0;
    std::size_t worst_at = 0;
    auto a_it = actual.begin();
    auto e_it = expected.begin();
    for (std::size_t i = 0; i < expected.size(); ++i, ++a_it, ++e_it) {
        const double a = static_cast<double>(*a_it), e = static_cast<double>(*e_it);
        const double excess = std::abs(a - e) - (atol + rtol * std::abs(e));
        if (excess > 0 || std::isnan(a) != std::isnan(e)) {
            ++bad;
            if (excess > worst) worst = excess, worst_at = i;
        }
    }
    INFO(bad << " of " << expected.size() << " elements differ; worst at flat index " << worst_at
             << " exceeds the tolerance by " << worst);
    REQUIRE(bad == 0);
}

}  // namespace katachi::test
