// katachi/kernels/concat.hpp: concatenation along one dimension, forward and backward.
//
// concat_forward(dim, y, x0, x1, ...) writes the xs one after another along `dim` into y. All
// tensors have the rank of y and the sizes of y in every dimension but `dim`; the xs' sizes along
// `dim` add up to y's. concat_backward(dim, dy, dx0, dx1, ...[, mode]) cuts dy back into those
// parts; the optional last argument is the write mode.
//
// A gradient the caller does not need may be `none`. Its size along `dim` is then unknown, so each
// real gradient must still be placeable: every none must lie on the same side of it (one none is
// always fine). Otherwise pass a buffer for the nones in between.
#pragma once

#include <katachi/error.hpp>
#include <algorithm>
#include <array>
#include <cstddef>
#include <katachi/kernels/common.hpp>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace katachi::kernels {

namespace detail {

// y seen as [outer, extent along dim, inner].
struct concat_layout {
    std::size_t outer = 1;
    std::size_t extent = 0;
    std::size_t inner = 1;
};

template <class Y>
concat_layout concat_layout_of(const char* op, const char* name, std::size_t dim, const Y& y) {
    if (dim >= y.dimension())
        KATACHI_THROW(std::out_of_range, std::string(op) + ": dimension " + std::to_string(dim) +
                                " is out of range for " + name + " of shape " + shape_text(y));
    require_rank(op, name, y, y.dimension());
    concat_layout l;
    for (std::size_t i = 0; i < dim; ++i) l.outer *= y.shape()[i];
    l.extent = y.shape()[dim];
    for (std::size_t i = dim + 1; i < y.dimension(); ++i) l.inner *= y.shape()[i];
    return l;
}

// Checks that part `index` matches `whole` in rank and in every dimension but `dim`.
template <class P, class W>
void require_concat_part(const char* op, const char* part_name, std::size_t index, const P& part,
                         const char* whole_name, const W& whole, std::size_t dim) {
    bool ok = part.dimension() == whole.dimension();
    for (std::size_t i = 0; ok && i < whole.dimension(); ++i)
        ok = i == dim || part.shape()[i] == whole.shape()[i];
    const std::string name = std::string(part_name) + "[" + std::to_string(index) + "]";
    if (!ok)
        KATACHI_THROW(shape_mismatch, std::string(op) + ": " + name + " has shape " + shape_text(part) + " but " +
                             whole_name + " has shape " + shape_text(whole) + "; all sizes but dimension " +
                             std::to_string(dim) + " must be equal");
    require_rank(op, name.c_str(), part, part.dimension());
}

template <class... A>
struct last_is_write : std::false_type {};
template <class A>
struct last_is_write<A> : std::is_same<std::remove_cvref_t<A>, write> {};
template <class A, class B, class... R>
struct last_is_write<A, B, R...> : last_is_write<B, R...> {};

template <class T>
struct concat_part {
    T* data = nullptr;  // nullptr for none
    std::size_t extent = 0;
    std::size_t offset = 0;
};

template <class DY, class... DX>
void concat_backward_parts(std::size_t dim, const DY& dy, write mode, DX&&... dxs) {
    using T = typename std::remove_cvref_t<DY>::value_type;
    static_assert(std::is_floating_point_v<T>, "concat_backward: dy must hold float or double");
    static_assert(sizeof...(DX) > 0, "concat_backward: pass at least one gradient (or none)");
    constexpr const char* op = "concat_backward";
    const concat_layout l = concat_layout_of(op, "dy", dim, dy);
    std::array<concat_part<T>, sizeof...(DX)> parts{};
    std::size_t index = 0;
    auto collect = [&](auto&& dx) {
        if constexpr (!is_none_v<decltype(dx)>) {
            static_assert(std::is_same_v<typename std::remove_cvref_t<decltype(dx)>::value_type, T>,
                          "concat_backward: every gradient must hold the scalar type of dy");
            require_concat_part(op, "dxs", index, dx, "dy", dy, dim);
            parts[index].data = data_of(dx);
            parts[index].extent = dx.shape()[dim];
        }
        ++index;
    };
    (collect(dxs), ...);

    // Offsets from the left up to the first none, and from the right back to the last none.
    const std::size_t n = parts.size();
    std::size_t known_total = 0, nones = 0;
    for (const auto& p : parts) known_total += p.extent, nones += p.data == nullptr;
    if (known_total > l.extent || (nones == 0 && known_total != l.extent))
        KATACHI_THROW(shape_mismatch, std::string(op) + ": the gradients' sizes along dimension " +
                             std::to_string(dim) + " add up to " + std::to_string(known_total) +
                             " but dy has shape " + shape_text(dy));
    std::size_t left = 0;
    std::size_t first_none = n;
    for (std::size_t i = 0; i < n && first_none == n; ++i) {
        if (!parts[i].data) {
            first_none = i;
        } else {
            parts[i].offset = left;
            left += parts[i].extent;
        }
    }
    std::size_t right = l.extent;
    std::size_t last_none = n;
    for (std::size_t i = n; i-- > 0 && last_none == n;) {
        if (!parts[i].data) {
            last_none = i;
        } else {
            right -= parts[i].extent;
            parts[i].offset = right;
        }
    }
    for (std::size_t i = first_none; first_none < n && i < last_none; ++i)
        if (parts[i].data)
            KATACHI_THROW(std::invalid_argument, 
                std::string(op) + ": dxs[" + std::to_string(i) +
                "] lies between gradients passed as none, so its place in dy is unknown; "
                "pass buffers for the nones before or after it");

    const T* src = data_of(dy);
    for (const auto& p : parts) {
        if (!p.data) continue;
        const std::size_t chunk = p.extent * l.inner;
        for (std::size_t o = 0; o < l.outer; ++o) {
            const T* from = src + (o * l.extent + p.offset) * l.inner;
            T* to = p.data + o * chunk;
            if (mode == write::accumulate)
                for (std::size_t k = 0; k < chunk; ++k) to[k] += from[k];
            else
                std::copy_n(from, chunk, to);
        }
    }
}

}  // namespace detail

template <class Y, class... X>
void concat_forward(std::size_t dim, Y&& y, const X&... xs) {
    using T = typename std::remove_cvref_t<Y>::value_type;
    static_assert(std::is_floating_point_v<T>, "concat_forward: y must hold float or double");
    static_assert(sizeof...(X) > 0, "concat_forward: pass at least one input");
    static_assert((std::is_same_v<typename X::value_type, T> && ...),
                  "concat_forward: every input must hold the scalar type of y");
    constexpr const char* op = "concat_forward";
    const detail::concat_layout l = detail::concat_layout_of(op, "y", dim, y);
    std::size_t index = 0, total = 0;
    ((detail::require_concat_part(op, "xs", index++, xs, "y", y, dim), total += xs.shape()[dim]), ...);
    if (total != l.extent)
        KATACHI_THROW(shape_mismatch, std::string(op) + ": the inputs' sizes along dimension " + std::to_string(dim) +
                             " add up to " + std::to_string(total) + " but y has shape " +
                             detail::shape_text(y));
    T* dst = detail::data_of(y);
    std::size_t offset = 0;
    auto place = [&](const auto& x) {
        const std::size_t chunk = x.shape()[dim] * l.inner;
        const T* src = detail::data_of(x);
        for (std::size_t o = 0; o < l.outer; ++o)
            std::copy_n(src + o * chunk, chunk, dst + (o * l.extent + offset) * l.inner);
        offset += x.shape()[dim];
    };
    (place(xs), ...);
}

// concat_backward(dim, dy, dxs...) or concat_backward(dim, dy, dxs..., mode).
template <class DY, class... Args>
void concat_backward(std::size_t dim, const DY& dy, Args&&... args) {
    if constexpr (detail::last_is_write<Args...>::value) {
        auto all = std::forward_as_tuple(std::forward<Args>(args)...);
        const write mode = std::get<sizeof...(Args) - 1>(all);
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            detail::concat_backward_parts(dim, dy, mode, std::get<I>(all)...);
        }
        (std::make_index_sequence<sizeof...(Args) - 1>{});
    } else {
        detail::concat_backward_parts(dim, dy, write::overwrite, std::forward<Args>(args)...);
    }
}

}  // namespace katachi::kernels
