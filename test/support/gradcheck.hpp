// test/support/gradcheck.hpp: central finite differences in float64, and the comparison rule.
//
// Usage: put every input of a kernel in xt::xarray<double>; write `loss()` as the sum over the
// kernel's outputs weighted by fixed random cotangents r (so d loss / d y = r); call the kernel's
// backward with dy = r to get the analytic gradients; compare each with numeric_gradient(loss, x).
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <xtensor/xarray.hpp>

namespace katachi::test {

// d loss / d x by central differences with step eps, perturbing x in place (and restoring it).
template <class Loss>
xt::xarray<double> numeric_gradient(Loss&& loss, xt::xarray<double>& x, double eps = 1e-6) {
    xt::xarray<double> g = xt::zeros<double>(x.shape());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double saved = x.data()[i];
        x.data()[i] = saved + eps;
        const double up = loss();
        x.data()[i] = saved - eps;
        const double down = loss();
        x.data()[i] = saved;
        g.data()[i] = (up - down) / (2 * eps);
    }
    return g;
}

// Relative error ||a - n|| / max(||a||, ||n||, tiny): the gradient-check criterion (< 1e-6).
inline double relative_error(const xt::xarray<double>& analytic, const xt::xarray<double>& numeric) {
    REQUIRE(analytic.shape() == numeric.shape());
    double diff = 0, na = 0, nn = 0;
    for (std::size_t i = 0; i < analytic.size(); ++i) {
        const double a = analytic.data()[i], n = numeric.data()[i];
        diff += (a - n) * (a - n);
        na += a * a;
        nn += n * n;
    }
    const double scale = std::max({std::sqrt(na), std::sqrt(nn), 1e-300});
    return std::sqrt(diff) / scale;
}

#define KATACHI_CHECK_GRADIENT(analytic, numeric)                                          \
    do {                                                                                   \
        const double katachi_rel_err = ::katachi::test::relative_error(analytic, numeric); \
        INFO("relative error of " #analytic " = " << katachi_rel_err);                     \
        CHECK(katachi_rel_err < 1e-6);                                                     \
    } while (0)

// Uniform values in [lo, hi) from a fixed seed.
inline xt::xarray<double> random_array(std::vector<std::size_t> shape, std::uint32_t seed, double lo = -1.0,
                                       double hi = 1.0) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> dist(lo, hi);
    xt::xarray<double> a = xt::zeros<double>(shape);
    for (auto& v : a) v = dist(gen);
    return a;
}

// Values whose magnitude is at least `gap` (away from the kink of relu and friends).
inline xt::xarray<double> random_away_from_zero(std::vector<std::size_t> shape, std::uint32_t seed,
                                                double gap = 0.05) {
    xt::xarray<double> a = random_array(std::move(shape), seed);
    for (auto& v : a) v = v < 0 ? v - gap : v + gap;
    return a;
}

// Sum of x * r: the scalar whose gradient with respect to x is r.
template <class E>
double weighted_sum(const E& x, const xt::xarray<double>& r) {
    double s = 0;
    for (std::size_t i = 0; i < r.size(); ++i) s += static_cast<double>(x.data()[i]) * r.data()[i];
    return s;
}

}  // namespace katachi::test
