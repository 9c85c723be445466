// katachi/io/safetensors/tensor.hpp: one safetensors tensor, its dtypes and their conversions, and a
// file's tensors by name (part of katachi/io/safetensors.hpp, which includes it).
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <katachi/io/detail/shape_text.hpp>
#include <katachi/io/safetensors/error.hpp>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

static_assert(std::endian::native == std::endian::little,
              "katachi's safetensors code copies little-endian bytes as they are: port it to this host");

namespace katachi::io {

enum class dtype { f16, bf16, f32, f64, i64 };

// "F16", "BF16", "F32", "F64", "I64"
inline std::string_view dtype_name(dtype t) {
    switch (t) {
        case dtype::f16:
            return "F16";
        case dtype::bf16:
            return "BF16";
        case dtype::f32:
            return "F32";
        case dtype::f64:
            return "F64";
        case dtype::i64:
            return "I64";
    }
    return "unknown";
}

// Bytes per element.
inline std::size_t dtype_size(dtype t) {
    switch (t) {
        case dtype::f16:
        case dtype::bf16:
            return 2;
        case dtype::f32:
            return 4;
        case dtype::f64:
        case dtype::i64:
            return 8;
    }
    return 0;
}

// The element types a tensor converts to and from: float (F32, and F16/BF16 on read), double (F64,
// and F16/BF16 on read), std::int64_t (I64). Other dtypes of the format ("U8", "I32", "BOOL", ...)
// are refused on read with rule unknown_dtype.
template <class T>
concept TensorElement = std::same_as<T, float> || std::same_as<T, double> || std::same_as<T, std::int64_t>;

// One tensor: its dtype, shape and little-endian bytes.
//
// `uninitialized` marks an entry that has a name but no shape and no values yet: the eager face's
// state_dict() gives one for each parameter of a lazy module not yet materialised (PyTorch's
// UninitializedParameter). Its shape and bytes are empty; reading its elements (as, get) and
// saving it (save_safetensors) fail with rule uninitialized, naming the key where it is known.
struct tensor {
    io::dtype type = dtype::f32;
    std::vector<std::size_t> shape;
    std::vector<std::byte> bytes;
    bool uninitialized = false;

    // The product of the shape (1 for shape []); throws safetensors_error (rule byte_size) on overflow.
    std::size_t element_count() const;

    // Copies the elements out as T. F32, F64 and I64 convert only to their own type; F16 and BF16
    // convert to float or double. Anything else throws safetensors_error (rule dtype_mismatch);
    // bytes that do not match the shape throw rule byte_size.
    template <TensorElement T>
    xt::xarray<T> as() const;

    // Builds a tensor from float, double or int64 elements laid out row-major; values.size() must
    // equal the product of the shape (else safetensors_error, rule byte_size).
    template <TensorElement T>
    static tensor from(std::span<const T> values, std::vector<std::size_t> shape);

    // Builds a tensor from any xtensor expression of float, double or int64 elements.
    template <class E>
    static tensor from_xt(const E& e) {
        using T = typename E::value_type;
        xt::xarray<T> packed = e;
        std::vector<std::size_t> shape(packed.shape().begin(), packed.shape().end());
        return from<T>(std::span<const T>(packed.data(), packed.size()), std::move(shape));
    }
};

using tensor_map = std::map<std::string, tensor>;
using metadata_map = std::map<std::string, std::string>;

struct safetensors_file {
    tensor_map tensors;
    metadata_map metadata;

    std::string file;  // the path it was read from, for error messages

    // The named tensor; throws safetensors_error (rule missing_key) naming `file`, the key, how many
    // tensors the file holds and a few names that sort next to the one asked for.
    const tensor& at(const std::string& key) const;

    // at(key).as<T>(), with any error naming `file` and the key.
    template <TensorElement T>
    xt::xarray<T> get(const std::string& key) const;
};

namespace detail {

inline std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
    std::uint64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
    return r;
}

// Bytes a tensor of this dtype and shape occupies, or nullopt if the count overflows 64 bits.
inline std::optional<std::uint64_t> byte_count(dtype t, const std::vector<std::size_t>& shape) {
    std::uint64_t n = dtype_size(t);
    for (std::size_t d : shape) {
        auto next = checked_mul(n, d);
        if (!next) return std::nullopt;
        n = *next;
    }
    return n;
}

// IEEE binary16 to float, exactly (every half value is a float).
inline float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1Fu;
    std::uint32_t mantissa = h & 0x3FFu;
    std::uint32_t bits = 0;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000u | (mantissa << 13);  // inf, or NaN keeping its payload
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 -> 127
    } else if (mantissa == 0) {
        bits = sign;  // signed zero
    } else {
        // Subnormal half: normalise the mantissa into a float's implicit leading 1.
        std::uint32_t e = 113;  // 127 - 15 + 1
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            --e;
        }
        bits = sign | (e << 23) | ((mantissa & 0x3FFu) << 13);
    }
    return std::bit_cast<float>(bits);
}

inline float bfloat16_to_float(std::uint16_t b) {
    return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

template <class T>
bool converts_to(dtype t) {
    switch (t) {
        case dtype::f16:
        case dtype::bf16:
            return std::floating_point<T>;
        case dtype::f32:
            return std::same_as<T, float>;
        case dtype::f64:
            return std::same_as<T, double>;
        case dtype::i64:
            return std::same_as<T, std::int64_t>;
    }
    return false;
}

template <class T>
std::string_view type_text() {
    if constexpr (std::same_as<T, float>) return "float";
    if constexpr (std::same_as<T, double>) return "double";
    return "std::int64_t";
}

// The elements of `t` as T. `file` and `key` name the tensor in errors (tensor::as leaves them
// empty; safetensors_file::get gives its own).
template <TensorElement T>
xt::xarray<T> decode(const tensor& t, const std::string& file, const std::string& key) {
    if (t.uninitialized)
        fail(file, key, rule::uninitialized,
             "the tensor is uninitialized (a lazy module's, taken before the module was materialised), so "
             "it has no shape and no values to read");
    if (!converts_to<T>(t.type))
        fail(file, key, rule::dtype_mismatch,
             "a " + std::string(dtype_name(t.type)) + " tensor of shape " + shape_text(t.shape) +
                 " cannot be read as " + std::string(type_text<T>()));
    const auto need = byte_count(t.type, t.shape);
    if (!need || *need != t.bytes.size())
        fail(file, key, rule::byte_size,
             "a " + std::string(dtype_name(t.type)) + " tensor of shape " + shape_text(t.shape) + " holds " +
                 std::to_string(t.bytes.size()) + " bytes, which does not match its shape");
    xt::xarray<T> out = xt::xarray<T>::from_shape(t.shape);
    const std::size_t n = out.size();
    T* dst = out.data();
    const std::byte* src = t.bytes.data();
    if (t.type == dtype::f16 || t.type == dtype::bf16) {
        for (std::size_t i = 0; i < n; ++i) {
            std::uint16_t h;
            std::memcpy(&h, src + 2 * i, 2);
            dst[i] = static_cast<T>(t.type == dtype::f16 ? half_to_float(h) : bfloat16_to_float(h));
        }
    } else if (n > 0) {
        std::memcpy(dst, src, n * sizeof(T));
    }
    return out;
}

}  // namespace detail

inline std::size_t tensor::element_count() const {
    std::uint64_t n = 1;
    for (std::size_t d : shape) {
        auto next = detail::checked_mul(n, d);
        if (!next)
            detail::fail("", "", detail::rule::byte_size,
                         "shape " + detail::shape_text(shape) + " has more than 2^64 elements");
        n = *next;
    }
    return static_cast<std::size_t>(n);
}

template <TensorElement T>
xt::xarray<T> tensor::as() const {
    return detail::decode<T>(*this, "", "");
}

template <TensorElement T>
tensor tensor::from(std::span<const T> values, std::vector<std::size_t> shape) {
    tensor t;
    t.type = std::same_as<T, float> ? dtype::f32 : std::same_as<T, double> ? dtype::f64 : dtype::i64;
    t.shape = std::move(shape);
    const std::size_t n = t.element_count();
    if (n != values.size())
        detail::fail("", "", detail::rule::byte_size,
                     std::to_string(values.size()) + " values cannot fill shape " +
                         detail::shape_text(t.shape) + " of " + std::to_string(n) + " elements");
    t.bytes.resize(n * sizeof(T));
    if (n > 0) std::memcpy(t.bytes.data(), values.data(), n * sizeof(T));
    return t;
}

inline const tensor& safetensors_file::at(const std::string& key) const {
    const auto it = tensors.find(key);
    if (it != tensors.end()) return it->second;
    // Name a handful of neighbours in sorted order: enough to spot a typo, never the whole file.
    constexpr std::ptrdiff_t shown = 3;
    const auto near = tensors.lower_bound(key);
    auto first = near;
    for (std::ptrdiff_t i = 0; i < shown && first != tensors.begin(); ++i) --first;
    auto last = near;
    for (std::ptrdiff_t i = 0; i < shown && last != tensors.end(); ++i) ++last;
    std::string what = "no such tensor; the file holds " + std::to_string(tensors.size()) + " tensor" +
                       (tensors.size() == 1 ? "" : "s");
    if (!tensors.empty()) {
        what += first == tensors.begin() && last == tensors.end() ? ": " : ", among them: ";
        for (auto i = first; i != last; ++i) what += (i == first ? "\"" : ", \"") + i->first + "\"";
    }
    detail::fail(file, key, detail::rule::missing_key, what);
}

// Decoded in place rather than through as(), so that an error names the file and the key with or
// without exceptions.
template <TensorElement T>
xt::xarray<T> safetensors_file::get(const std::string& key) const {
    return detail::decode<T>(at(key), file, key);
}

}  // namespace katachi::io
