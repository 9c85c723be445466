// katachi/kernels/tensor_view.hpp: a row-major view of rank R over memory someone else owns.
//
//   float buffer[2 * 3];
//   kernels::tensor_view<float, 2> v(buffer, {2, 3});
//   v(1, 2) = 1.0f;                     // buffer[5]
//
// What the graph face hands its kernels: it has what the kernels' tensor_like asks for (data(),
// shape(), dimension(), size()) and nothing else, so a build for a small device needs neither
// xtensor nor the heap. The view never owns, allocates or checks: its shape comes from the types.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

namespace katachi::kernels {

template <class T, std::size_t R>
class tensor_view {
public:
    using value_type = std::remove_const_t<T>;
    using shape_type = std::array<std::size_t, R>;

    constexpr tensor_view(T* data, const shape_type& shape) noexcept : data_(data), shape_(shape) {}

    constexpr T* data() const noexcept { return data_; }
    constexpr const shape_type& shape() const noexcept { return shape_; }
    static constexpr std::size_t dimension() noexcept { return R; }
    constexpr std::size_t size() const noexcept {
        std::size_t n = 1;
        for (std::size_t d : shape_) n *= d;
        return n;
    }
    constexpr T* begin() const noexcept { return data_; }
    constexpr T* end() const noexcept { return data_ + size(); }

    // The element at (i0, i1, ...), row-major; as many indices as the rank.
    template <class... I>
    requires(sizeof...(I) == R) constexpr T& operator()(I... index) const noexcept {
        const std::array<std::size_t, R> at{static_cast<std::size_t>(index)...};
        std::size_t offset = 0;
        for (std::size_t k = 0; k < R; ++k) offset = offset * shape_[k] + at[k];
        return data_[offset];
    }

private:
    T* data_;
    shape_type shape_;
};

}  // namespace katachi::kernels
