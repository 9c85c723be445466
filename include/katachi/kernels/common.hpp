// katachi/kernels/common.hpp: the contract every kernel follows.
//
// * Kernels are templates over the scalar (float for use, double for gradient checks).
// * Arguments are xtensor containers (xt::xtensor, xt::xarray, xt::xtensor_fixed), adaptors over
//   caller-owned memory (xt::adapt), or views that are row-major contiguous (e.g. a leading range
//   of a batch). Anything else is rejected with katachi::shape_mismatch.
// * Outputs are written into buffers the caller provides, already of the right shape: given them,
//   a kernel allocates nothing. A wrong shape throws katachi::shape_mismatch naming the kernel,
//   the argument, the expected and the actual shape.
// * A gradient the caller does not need is passed as `kernels::none`; it is then not computed.
// * Backward kernels overwrite their gradient outputs by default; `write::accumulate` adds into
//   them instead (parameter gradients across micro-batches, a node with several consumers).
#pragma once

#include <katachi/error.hpp>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace katachi {

// Thrown by kernels (and later by the eager face) when shapes do not fit together.
class shape_mismatch : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

namespace kernels {

struct none_t {};
inline constexpr none_t none{};

template <class T>
inline constexpr bool is_none_v = std::is_same_v<std::remove_cvref_t<T>, none_t>;

enum class write { overwrite, accumulate };

// Anything with contiguous storage that exposes data() and shape().
template <class E>
concept tensor_like = requires(E& e) {
    e.data();
    e.shape();
    e.dimension();
    e.size();
};

namespace detail {

template <class E>
auto* data_of(E& e) {
    if constexpr (requires { e.data_offset(); })
        return e.data() + e.data_offset();
    else
        return e.data();
}

template <class E>
std::string shape_text(const E& e) {
    std::string s = "[";
    for (std::size_t i = 0; i < e.dimension(); ++i) s += (i ? ", " : "") + std::to_string(e.shape()[i]);
    return s + "]";
}

inline std::string dims_text(std::initializer_list<std::size_t> dims) {
    std::string s = "[";
    std::size_t i = 0;
    for (std::size_t d : dims) s += (i++ ? ", " : "") + std::to_string(d);
    return s + "]";
}

// Row-major contiguity: the strides (in elements) are those of a packed array of this shape.
template <class E>
bool is_row_major_contiguous(const E& e) {
    if constexpr (requires { e.strides(); }) {
        std::size_t expected = 1;
        for (std::size_t i = e.dimension(); i-- > 0;) {
            const std::size_t extent = e.shape()[i];
            if (extent != 1 && static_cast<std::size_t>(e.strides()[i]) != expected) return false;
            expected *= extent;
        }
        return true;
    } else {
        return true;
    }
}

// The kernels' shape checks word their failures in a fixed buffer (katachi::detail::sentence), so
// that a build for a small device, where a check can fail only by a bug, links no std::string.
using katachi::detail::sentence;

// Appends "[d0, d1, ...]".
template <class E>
void append_shape(sentence& s, const E& e) {
    s << "[";
    for (std::size_t i = 0; i < e.dimension(); ++i) s << (i ? ", " : "") << static_cast<std::size_t>(e.shape()[i]);
    s << "]";
}

template <class E>
[[noreturn]] void not_contiguous(const char* op, const char* arg, const E& e) {
    sentence s;
    s << op << ": " << arg << " of shape ";
    append_shape(s, e);
    KATACHI_THROW(shape_mismatch, (s << " is not row-major contiguous; pass a contiguous copy").c_str());
}

// Checks that `e` has exactly the shape `dims` and contiguous row-major storage.
template <class E>
void require_shape(const char* op, const char* arg, const E& e, std::initializer_list<std::size_t> dims) {
    bool ok = e.dimension() == dims.size();
    if (ok) {
        std::size_t i = 0;
        for (std::size_t d : dims) ok = ok && e.shape()[i++] == d;
    }
    if (!ok) {
        sentence s;
        s << op << ": " << arg << " has shape ";
        append_shape(s, e);
        s << ", expected [";
        std::size_t i = 0;
        for (std::size_t d : dims) s << (i++ ? ", " : "") << d;
        KATACHI_THROW(shape_mismatch, (s << "]").c_str());
    }
    if (!is_row_major_contiguous(e)) not_contiguous(op, arg, e);
}

// Checks rank and contiguity only; returns nothing, throws on failure.
template <class E>
void require_rank(const char* op, const char* arg, const E& e, std::size_t rank) {
    if (e.dimension() != rank) {
        sentence s;
        s << op << ": " << arg << " has shape ";
        append_shape(s, e);
        KATACHI_THROW(shape_mismatch, (s << ", expected rank " << rank).c_str());
    }
    if (!is_row_major_contiguous(e)) not_contiguous(op, arg, e);
}

// Two tensors of identical shape (elementwise kernels).
template <class A, class B>
void require_same_shape(const char* op, const char* a_name, const A& a, const char* b_name, const B& b) {
    bool ok = a.dimension() == b.dimension();
    for (std::size_t i = 0; ok && i < a.dimension(); ++i) ok = a.shape()[i] == b.shape()[i];
    if (!ok) {
        sentence s;
        s << op << ": " << a_name << " has shape ";
        append_shape(s, a);
        s << " but " << b_name << " has shape ";
        append_shape(s, b);
        KATACHI_THROW(shape_mismatch, (s << "; they must be equal").c_str());
    }
    if (!is_row_major_contiguous(a) || !is_row_major_contiguous(b))
        KATACHI_THROW(shape_mismatch, (sentence() << op << ": arguments must be row-major contiguous").c_str());
}

template <class T>
inline void store(T* out, std::size_t i, T value, write mode) {
    if (mode == write::accumulate)
        out[i] += value;
    else
        out[i] = value;
}

}  // namespace detail
}  // namespace kernels
}  // namespace katachi
