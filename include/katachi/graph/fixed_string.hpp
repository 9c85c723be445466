// katachi/graph/fixed_string.hpp: node names as template arguments.
//
// node<"conv1", ...> takes its name as a fixed_string, which g++ prints as fixed_string<6>{"conv1"}
// in a diagnostic. Names compare and print as std::string_view.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace katachi::graph {

template <std::size_t N>
struct fixed_string {
    char text[N]{};

    constexpr fixed_string() = default;
    constexpr fixed_string(const char (&s)[N]) { std::copy(s, s + N, text); }  // NOLINT: implicit by design

    constexpr std::string_view view() const { return {text, N - 1}; }
    constexpr std::size_t size() const { return N - 1; }
};

namespace detail {

constexpr std::size_t decimal_digits(std::size_t i) {
    return i < 10 ? 1 : 1 + decimal_digits(i / 10);
}

// The decimal spelling of I as a fixed_string: "0", "1", ..., the names nn.Sequential gives layers.
template <std::size_t I>
constexpr auto index_name() {
    fixed_string<decimal_digits(I) + 1> s;
    std::size_t v = I;
    for (std::size_t k = decimal_digits(I); k-- > 0; v /= 10) s.text[k] = static_cast<char>('0' + v % 10);
    return s;
}

// "a" + "." + "b" (the name of node b inside block a).
template <fixed_string A, fixed_string B>
constexpr auto dotted() {
    fixed_string<A.size() + B.size() + 2> s;
    std::copy(A.text, A.text + A.size(), s.text);
    s.text[A.size()] = '.';
    std::copy(B.text, B.text + B.size(), s.text + A.size() + 1);
    return s;
}

}  // namespace detail
}  // namespace katachi::graph
