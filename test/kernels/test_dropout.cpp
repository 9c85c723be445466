// dropout and katachi::generator: statistics of the mask, its scaling, reproducibility from a seed,
// the identity outside training, a finite-difference check of the backward in float64 (the mask
// fixed by the seed), and PyTorch's backward given PyTorch's own mask.
#include <catch2/catch.hpp>
#include <cmath>
#include <katachi/kernels/dropout.hpp>
#include <katachi/random.hpp>
#include <limits>
#include <random>
#include <vector>
#include <xtensor/xarray.hpp>

#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"

using namespace katachi;
using namespace katachi::kernels;

namespace {

template <class T>
std::size_t count_kept(const xt::xarray<T>& mask) {
    std::size_t kept = 0;
    for (T m : mask) kept += m != T(0);
    return kept;
}

}  // namespace

TEST_CASE("generator gives the same sequence for the same seed and a different one for another seed",
          "[random]") {
    generator a(42), b(42), c(43);
    std::size_t same = 0, differ = 0;
    for (int i = 0; i < 1000; ++i) {
        const auto va = a(), vb = b(), vc = c();
        same += va == vb;
        differ += va != vc;
    }
    CHECK(same == 1000);
    CHECK(differ == 1000);
}

TEST_CASE("generator draws uniform values in [0, 1) with mean 1/2 and variance 1/12", "[random]") {
    generator g(7);
    const int n = 200000;
    double sum = 0, squares = 0, lowest = 1, highest = 0;
    for (int i = 0; i < n; ++i) {
        const double u = i % 2 ? g.uniform<double>() : static_cast<double>(g.uniform<float>());
        lowest = std::min(lowest, u), highest = std::max(highest, u);
        sum += u;
        squares += (u - 0.5) * (u - 0.5);
    }
    CHECK(lowest >= 0.0);
    CHECK(highest < 1.0);
    // Standard error of the mean: sqrt(1/12 / n) ~ 6.5e-4; five of them.
    CHECK(std::abs(sum / n - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
    CHECK(std::abs(squares / n - 1.0 / 12) < 0.002);
    const float a = g.uniform(2.0f, 3.0f);
    CHECK((a >= 2.0f && a < 3.0f));
}

TEST_CASE("generator draws normal values with the requested mean and standard deviation", "[random]") {
    generator g(11);
    const int n = 200000;
    double sum = 0, squares = 0;
    for (int i = 0; i < n; ++i) {
        const double z = g.normal<double>(1.5, 2.0);
        sum += z;
        squares += (z - 1.5) * (z - 1.5);
    }
    CHECK(std::abs(sum / n - 1.5) < 5 * 2.0 / std::sqrt(n));
    CHECK(std::abs(std::sqrt(squares / n) - 2.0) < 0.02);
}

TEST_CASE("generator works with the standard distributions", "[random]") {
    generator g(5);
    std::uniform_int_distribution<int> dist(0, 9);
    std::vector<int> counts(10, 0);
    for (int i = 0; i < 10000; ++i) ++counts[static_cast<std::size_t>(dist(g))];
    for (int c : counts) CHECK(c > 800);
}

TEST_CASE("dropout with p = 0.3 keeps about 70% of 100k elements, each scaled by 1/(1-p)", "[dropout]") {
    const double p = 0.3;
    const std::size_t n = 100000;
    const xt::xarray<float> x = test::random_array({100, 1000}, 201, 0.5, 1.5);
    xt::xarray<float> y = xt::zeros<float>(x.shape()), mask = xt::zeros<float>(x.shape());
    generator g(1234);
    dropout_forward(x, y, mask, p, true, g);
    const double kept = static_cast<double>(count_kept(mask)) / n;
    INFO("kept fraction " << kept);
    CHECK(std::abs(kept - 0.7) < 5 * std::sqrt(p * (1 - p) / n));
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const float m = mask.data()[i], xi = x.data()[i], yi = y.data()[i];
        if (!((m == 0.0f && yi == 0.0f) || (m == scale && yi == xi * scale))) ++wrong;
        // x * (1/(1-p)) rounds once more than x / (1-p): at most one unit in the last place apart.
        if (m != 0.0f && std::abs(yi - static_cast<float>(xi / (1.0 - p))) > std::abs(yi) * 1.2e-7f) ++wrong;
    }
    CHECK(wrong == 0);
}

TEST_CASE("dropout's kept values are exactly x/(1-p) when 1/(1-p) is exact", "[dropout]") {
    for (const double p : {0.5, 0.75}) {
        const xt::xarray<double> x = test::random_array({40, 25}, 202);
        xt::xarray<double> y = xt::zeros<double>(x.shape()), mask = xt::zeros<double>(x.shape());
        generator g(99);
        dropout_forward(x, y, mask, p, true, g);
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
            const double expected = mask.data()[i] == 0 ? 0.0 : x.data()[i] / (1 - p);
            wrong += y.data()[i] != expected;
        }
        CHECK(wrong == 0);
        CHECK(count_kept(mask) > 0);
        CHECK(count_kept(mask) < x.size());
    }
}

TEST_CASE("dropout draws the same mask from the same seed and a different mask from another", "[dropout]") {
    const xt::xarray<float> x = xt::ones<float>({50, 40});
    xt::xarray<float> y = xt::zeros<float>(x.shape());
    xt::xarray<float> m1 = xt::zeros<float>(x.shape()), m2 = m1, m3 = m1;
    generator g1(2024), g2(2024), g3(2025);
    dropout_forward(x, y, m1, 0.3, true, g1);
    dropout_forward(x, y, m2, 0.3, true, g2);
    dropout_forward(x, y, m3, 0.3, true, g3);
    std::size_t same12 = 0, same13 = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        same12 += m1.data()[i] == m2.data()[i];
        same13 += m1.data()[i] == m3.data()[i];
    }
    CHECK(same12 == x.size());
    CHECK(same13 < x.size());
    // A second call continues the sequence, so it draws a new mask.
    dropout_forward(x, y, m2, 0.3, true, g1);
    CHECK(!(m1 == m2));
}

TEST_CASE("dropout outside training or with p = 0 is the identity and leaves the generator alone",
          "[dropout]") {
    const xt::xarray<float> x = test::random_array({3, 4, 5}, 203);
    for (const auto& [p, training] : {std::pair{0.3, false}, std::pair{0.0, true}, std::pair{1.0, false}}) {
        xt::xarray<float> y = xt::zeros<float>(x.shape()), mask = xt::zeros<float>(x.shape());
        generator g(8), fresh(8);
        dropout_forward(x, y, mask, p, training, g);
        CHECK((y == x));
        CHECK((mask == xt::ones<float>(x.shape())));
        CHECK(g() == fresh());
    }
}

TEST_CASE("dropout with p = 1 drops everything", "[dropout]") {
    const xt::xarray<float> x = test::random_array({7, 9}, 204);
    xt::xarray<float> y = xt::ones<float>(x.shape()), mask = xt::ones<float>(x.shape());
    generator g(1);
    dropout_forward(x, y, mask, 1.0, true, g);
    CHECK((y == xt::zeros<float>(x.shape())));
    CHECK(count_kept(mask) == 0);
}

TEST_CASE("dropout backward matches finite differences with the mask fixed by the seed", "[dropout]") {
    xt::xarray<double> x = test::random_array({6, 7, 5}, 205);
    const xt::xarray<double> r = test::random_array({6, 7, 5}, 206);
    xt::xarray<double> y = xt::zeros<double>(x.shape()), mask = xt::zeros<double>(x.shape());
    auto loss = [&] {
        generator g(77);
        dropout_forward(x, y, mask, 0.4, true, g);
        return test::weighted_sum(y, r);
    };
    const xt::xarray<double> numeric = test::numeric_gradient(loss, x);
    loss();
    xt::xarray<double> dx = xt::zeros<double>(x.shape());
    dropout_backward(mask, r, dx);
    KATACHI_CHECK_GRADIENT(dx, numeric);
    xt::xarray<double> acc = xt::ones<double>(x.shape());
    dropout_backward(mask, r, acc, write::accumulate);
    CHECK(xt::allclose(acc, dx + 1.0, 0.0, 1e-15));
}

TEST_CASE("dropout backward matches PyTorch given PyTorch's mask", "[dropout]") {
    const auto file = test::load_fixture_file("pool.safetensors");
    const xt::xarray<float> x = test::fixture<float>(file, "dropout.x");
    const xt::xarray<float> mask = test::fixture<float>(file, "dropout.mask");
    // The mask was recovered from PyTorch's output; applying it reproduces that output.
    test::require_allclose(x * mask, test::fixture<float>(file, "dropout.y"));
    xt::xarray<float> dx = xt::zeros<float>(x.shape());
    dropout_backward(mask, test::fixture<float>(file, "dropout.dy"), dx);
    test::require_allclose(dx, test::fixture<float>(file, "dropout.dx"));
}

TEST_CASE("dropout rejects a probability outside [0, 1] and buffers of another shape", "[dropout][errors]") {
    const xt::xarray<float> x = xt::ones<float>({4, 5});
    xt::xarray<float> y = xt::zeros<float>({4, 5}), mask = xt::zeros<float>({4, 5});
    generator g(0);
    CHECK_THROWS_AS(dropout_forward(x, y, mask, -0.1, true, g), std::invalid_argument);
    CHECK_THROWS_AS(dropout_forward(x, y, mask, 1.5, false, g), std::invalid_argument);
    CHECK_THROWS_WITH(dropout_forward(x, y, mask, std::numeric_limits<double>::quiet_NaN(), true, g),
                      Catch::Contains("dropout_forward") && Catch::Contains("[0, 1]"));
    xt::xarray<float> mask_bad = xt::zeros<float>({5, 4});
    CHECK_THROWS_AS(dropout_forward(x, y, mask_bad, 0.5, true, g), shape_mismatch);
    CHECK_THROWS_WITH(dropout_backward(mask_bad, x, y), Catch::Contains("dropout_backward"));
}
