// katachi/eager/sizes.hpp: the extents (or strides) of an eager tensor, held without the heap.
//
// A tensor has at most max_rank dimensions; its extents live inline in a `sizes`, so making a
// tensor or a view allocates nothing for its shape. `sizes` is a sequence of std::size_t with
// size(), operator[], begin() and end(), which is all the kernels ask of a shape.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace katachi::eager {

inline constexpr std::size_t max_rank = 8;

class sizes {
public:
    using value_type = std::size_t;
    using const_iterator = const std::size_t*;

    constexpr sizes() = default;
    sizes(std::initializer_list<std::size_t> dims) { assign(dims.begin(), dims.end()); }
    template <class It>
    sizes(It first, It last) {
        assign(first, last);
    }
    // Any sequence of sizes (a std::vector, a std::array, a kernel's output shape).
    template <class R>
    requires requires(const R& r) {
        std::begin(r);
        std::end(r);
    } &&(!std::is_same_v<std::remove_cvref_t<R>, sizes>)explicit sizes(const R& r) {
        assign(std::begin(r), std::end(r));
    }

    constexpr std::size_t size() const noexcept { return rank_; }
    constexpr bool empty() const noexcept { return rank_ == 0; }
    constexpr std::size_t operator[](std::size_t i) const noexcept { return dims_[i]; }
    constexpr std::size_t& operator[](std::size_t i) noexcept { return dims_[i]; }
    constexpr const std::size_t* begin() const noexcept { return dims_.data(); }
    constexpr const std::size_t* end() const noexcept { return dims_.data() + rank_; }
    constexpr std::size_t back() const noexcept { return dims_[rank_ - 1]; }

    void push_back(std::size_t d) {
        if (rank_ == max_rank)
            throw std::length_error("katachi::eager: a tensor has at most " + std::to_string(max_rank) +
                                    " dimensions");
        dims_[rank_++] = d;
    }

    // The product of the extents: the element count (1 for rank 0). Every tensor's shape passed
    // addressable() when the tensor was made, so for a tensor's shape this cannot overflow.
    constexpr std::size_t numel() const noexcept {
        std::size_t n = 1;
        for (std::size_t i = 0; i < rank_; ++i) n *= dims_[i];
        return n;
    }

    // Whether a tensor of this shape with elements of `element_bytes` bytes fits in memory's address
    // range: the product of the nonzero extents times the element size stays below 2^63 (so every
    // partial product, offset and byte count formed from the shape fits too, zero extents or not).
    constexpr bool addressable(std::size_t element_bytes) const noexcept {
        std::size_t n = element_bytes;
        for (std::size_t i = 0; i < rank_; ++i)
            if (dims_[i] != 0 && __builtin_mul_overflow(n, dims_[i], &n)) return false;
        return n <= max_bytes;
    }
    static constexpr std::size_t max_bytes = std::size_t{1} << 63;

    friend constexpr bool operator==(const sizes& a, const sizes& b) noexcept {
        return a.rank_ == b.rank_ && std::equal(a.begin(), a.end(), b.begin());
    }

    // "[2, 3, 4]"
    std::string str() const {
        std::string s = "[";
        for (std::size_t i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
        return s + "]";
    }
    friend std::ostream& operator<<(std::ostream& os, const sizes& s) { return os << s.str(); }

private:
    template <class It>
    void assign(It first, It last) {
        for (; first != last; ++first) push_back(static_cast<std::size_t>(*first));
    }

    std::array<std::size_t, max_rank> dims_{};
    std::size_t rank_ = 0;
};

// Throws std::length_error naming `op` and the shape unless addressable(element_bytes).
inline void require_addressable(const char* op, const sizes& shape, std::size_t element_bytes) {
    if (!shape.addressable(element_bytes))
        throw std::length_error(std::string(op) + ": shape " + shape.str() + " has too many elements: with " +
                                std::to_string(element_bytes) +
                                "-byte elements it needs more than 2^63 bytes (the product of its sizes overflows)");
}

// The row-major (contiguous) strides of a shape, in elements.
inline sizes contiguous_strides(const sizes& shape) {
    sizes s = shape;
    std::size_t step = 1;
    for (std::size_t i = shape.size(); i-- > 0;) {
        s[i] = step;
        step *= shape[i];
    }
    return s;
}

}  // namespace katachi::eager
