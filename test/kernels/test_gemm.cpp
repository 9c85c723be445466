// detail::gemm: every transpose combination against a plain triple loop, including the one-row and
// one-column products that go to the matrix-vector routine.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <katachi/kernels/gemm.hpp>
#include <random>
#include <vector>

#include "support/random_values.hpp"

namespace {

using katachi::test::random_values;

// C = alpha op(A) op(B) + beta C in double, element by element.
template <class T>
std::vector<double> reference(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha,
                              const std::vector<T>& a, const std::vector<T>& b, double beta,
                              const std::vector<T>& c) {
    std::vector<double> out(m * n);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double s = 0;
            for (std::size_t l = 0; l < k; ++l)
                s += static_cast<double>(ta ? a[l * m + i] : a[i * k + l]) *
                     static_cast<double>(tb ? b[j * k + l] : b[l * n + j]);
            out[i * n + j] = alpha * s + (beta == 0 ? 0.0 : beta * static_cast<double>(c[i * n + j]));
        }
    return out;
}

template <class T>
void check_all_transposes(std::size_t m, std::size_t n, std::size_t k, double tolerance) {
    std::uint32_t seed = 1;
    for (const bool ta : {false, true})
        for (const bool tb : {false, true})
            for (const double beta : {0.0, 0.25}) {
                INFO("m " << m << ", n " << n << ", k " << k << ", transpose a " << ta << ", transpose b "
                          << tb << ", beta " << beta);
                const auto a = random_values<T>(m * k, seed++);
                const auto b = random_values<T>(k * n, seed++);
                auto c = random_values<T>(m * n, seed++);
                if (beta == 0)  // beta 0 must ignore C, even a NaN in it
                    c[0] = std::numeric_limits<T>::quiet_NaN();
                const auto expected = reference(ta, tb, m, n, k, 0.5, a, b, beta, c);
                katachi::kernels::detail::gemm(ta, tb, m, n, k, T(0.5), a.data(), b.data(), T(beta),
                                               c.data());
                for (std::size_t i = 0; i < m * n; ++i) {
                    INFO("element " << i);
                    CHECK(std::abs(static_cast<double>(c[i]) - expected[i]) <= tolerance);
                }
            }
}

}  // namespace

TEST_CASE("gemm with one row or one column matches the plain product for every transpose", "[gemm]") {
    for (const auto& [m, n, k] : std::vector<std::array<std::size_t, 3>>{
             {1, 7, 5}, {6, 1, 5}, {1, 1, 5}, {1, 7, 1}, {6, 1, 1}, {1, 300, 97}, {129, 1, 64}}) {
        check_all_transposes<float>(m, n, k, 1e-5);
        check_all_transposes<double>(m, n, k, 1e-12);
    }
}

TEST_CASE("gemm with several rows and columns matches the plain product for every transpose", "[gemm]") {
    check_all_transposes<float>(3, 4, 5, 1e-5);
    check_all_transposes<double>(17, 9, 33, 1e-12);
}
