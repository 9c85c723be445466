// katachi/io/idx/read.hpp: decoding an IDX file, any element type, or unsigned-byte images and
// labels as the MNIST family stores them (part of katachi/io/idx.hpp, which includes it). The
// header is checked and the element count worked out (overflow-checked) before any data is read;
// the data must then fill the file (or its gzip stream) exactly.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <katachi/error.hpp>
#include <katachi/io/detail/shape_text.hpp>
#include <katachi/io/idx/input.hpp>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

namespace katachi::io {

// The decoded file: dimensions and elements converted to double (exact for every IDX type).
struct idx_array {
    std::uint8_t type_code = 0;
    std::vector<std::size_t> shape;
    std::vector<double> values;
};

namespace detail {

inline std::size_t element_size(std::uint8_t type_code) {
    switch (type_code) {
        case 0x08:
        case 0x09:
            return 1;
        case 0x0B:
            return 2;
        case 0x0C:
        case 0x0D:
            return 4;
        case 0x0E:
            return 8;
        default:
            return 0;
    }
}

inline std::string hex_byte(unsigned v) {
    constexpr char digits[] = "0123456789abcdef";
    return std::string("0x") + digits[(v >> 4) & 0xF] + digits[v & 0xF];
}

// A file's header and its raw big-endian data, checked against each other.
struct raw_idx {
    std::uint8_t type_code = 0;
    std::vector<std::size_t> shape;
    std::vector<unsigned char> data;
};

inline raw_idx read_raw(const std::filesystem::path& path) {
    idx_input in(path);
    const std::string& name = in.name();
    std::array<unsigned char, 4> magic{};
    const std::size_t got_magic = in.read(magic.data(), 4);
    if (got_magic < 4)
        KATACHI_THROW(
            idx_error, name,
            "the file holds " + std::to_string(got_magic) + " bytes, too few for the 4-byte IDX magic");
    if (magic[0] != 0 || magic[1] != 0)
        KATACHI_THROW(idx_error, name,
                      "bad magic: an IDX file starts with two zero bytes, this one with " +
                          hex_byte(magic[0]) + " " + hex_byte(magic[1]));
    raw_idx out;
    out.type_code = magic[2];
    const std::size_t elem = element_size(out.type_code);
    if (elem == 0)
        KATACHI_THROW(
            idx_error, name,
            "unknown type code " + hex_byte(magic[2]) + " (known: 0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e)");
    const unsigned rank = magic[3];
    if (rank < 1 || rank > 4)
        KATACHI_THROW(idx_error, name, "rank " + std::to_string(rank) + " is outside 1..4");

    std::array<unsigned char, 16> dims{};
    const std::size_t header = 4 + 4 * std::size_t{rank};
    const std::size_t got_dims = in.read(dims.data(), 4 * rank);
    if (got_dims < 4 * rank)
        KATACHI_THROW(idx_error, name,
                      "truncated header: expected " + std::to_string(header) + " bytes for rank " +
                          std::to_string(rank) + ", found " + std::to_string(4 + got_dims));
    std::uint64_t expected = elem;
    for (unsigned i = 0; i < rank; ++i) {
        const std::uint32_t d = (std::uint32_t{dims[4 * i]} << 24) | (std::uint32_t{dims[4 * i + 1]} << 16) |
                                (std::uint32_t{dims[4 * i + 2]} << 8) | std::uint32_t{dims[4 * i + 3]};
        out.shape.push_back(d);
        if (__builtin_mul_overflow(expected, std::uint64_t{d}, &expected))
            KATACHI_THROW(idx_error, name, "the dimensions' byte count overflows 64 bits");
    }
    const std::string stored = in.compressed() ? " (after gzip decompression)" : "";

    // The buffer grows with the data actually read, at most doubling it (from 64 KiB), so a header
    // claiming far more data than the file holds allocates little more than the file's size.
    std::uint64_t got = 0;
    while (got < expected) {
        const std::uint64_t want =
            std::min(expected, std::max<std::uint64_t>(std::uint64_t{1} << 16, 2 * got));
        out.data.resize(static_cast<std::size_t>(want));
        const std::size_t chunk = static_cast<std::size_t>(want - got);
        const std::size_t n = in.read(out.data.data() + got, chunk);
        got += n;
        if (n < chunk) break;
    }
    if (got < expected)
        KATACHI_THROW(idx_error, name,
                      "truncated data: expected " + std::to_string(expected) + " data bytes after the " +
                          std::to_string(header) + "-byte header, found " + std::to_string(got) + stored);
    const std::uint64_t extra = in.count_rest();
    if (extra > 0)
        KATACHI_THROW(idx_error, name,
                      "trailing data: expected " + std::to_string(expected) + " data bytes after the " +
                          std::to_string(header) + "-byte header, found " + std::to_string(expected + extra) +
                          " (" + std::to_string(extra) + " bytes too many)" + stored);
    return out;
}

template <class U>
U load_big_endian(const unsigned char* p) {
    U v = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i) v = static_cast<U>((v << 8) | p[i]);
    return v;
}

// An unsigned-byte file of the given rank, or an error saying what it is instead.
inline raw_idx read_unsigned_bytes(const std::filesystem::path& path, std::size_t rank, const char* what) {
    raw_idx raw = read_raw(path);
    if (raw.type_code != 0x08 || raw.shape.size() != rank)
        KATACHI_THROW(idx_error, path.string(),
                      std::string("expected ") + what + " (type code 0x08, rank " + std::to_string(rank) +
                          "), found type code " + hex_byte(raw.type_code) + " with shape " +
                          shape_text(raw.shape));
    return raw;
}

}  // namespace detail

// Reads any IDX file; gzip'd input is detected by its magic bytes, not by the file name.
// A template only so that KATACHI_EXTERN_KERNELS can take its one instance from libkatachi (see the
// end of this file); call it as a function.
template <class = void>
idx_array read_idx(const std::filesystem::path& path) {
    detail::raw_idx raw = detail::read_raw(path);
    idx_array out;
    out.type_code = raw.type_code;
    out.shape = raw.shape;
    const unsigned char* p = raw.data.data();
    const std::size_t n = raw.data.size() / detail::element_size(raw.type_code);
    out.values.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        double v = 0;
        switch (raw.type_code) {
            case 0x08:
                v = p[i];
                break;
            case 0x09:
                v = static_cast<std::int8_t>(p[i]);
                break;
            case 0x0B:
                v = static_cast<std::int16_t>(detail::load_big_endian<std::uint16_t>(p + 2 * i));
                break;
            case 0x0C:
                v = static_cast<std::int32_t>(detail::load_big_endian<std::uint32_t>(p + 4 * i));
                break;
            case 0x0D:
                v = std::bit_cast<float>(detail::load_big_endian<std::uint32_t>(p + 4 * i));
                break;
            case 0x0E:
                v = std::bit_cast<double>(detail::load_big_endian<std::uint64_t>(p + 8 * i));
                break;
        }
        out.values[i] = v;
    }
    return out;
}

// Unsigned-byte image files [N, rows, cols] scaled to [0, 1] as float: [N, 1, rows, cols].
// (A template for KATACHI_EXTERN_KERNELS, as read_idx.)
template <class = void>
xt::xtensor<float, 4> read_idx_images(const std::filesystem::path& path) {
    const detail::raw_idx raw = detail::read_unsigned_bytes(path, 3, "unsigned-byte images [N, rows, cols]");
    std::array<float, 256> scaled{};
    for (unsigned v = 0; v < 256; ++v) scaled[v] = static_cast<float>(v) / 255.0f;
    xt::xtensor<float, 4> out =
        xt::xtensor<float, 4>::from_shape({raw.shape[0], 1, raw.shape[1], raw.shape[2]});
    float* dst = out.data();
    for (std::size_t i = 0; i < raw.data.size(); ++i) dst[i] = scaled[raw.data[i]];
    return out;
}

// Unsigned-byte label files [N] as int64 class indices. Any byte value 0..255 is a label here;
// checking them against a dataset's classes is the caller's (load_fashion_mnist does).
// (A template for KATACHI_EXTERN_KERNELS, as read_idx.)
template <class = void>
xt::xtensor<std::int64_t, 1> read_idx_labels(const std::filesystem::path& path) {
    const detail::raw_idx raw = detail::read_unsigned_bytes(path, 1, "unsigned-byte labels [N]");
    xt::xtensor<std::int64_t, 1> out = xt::xtensor<std::int64_t, 1>::from_shape({raw.shape[0]});
    std::copy(raw.data.begin(), raw.data.end(), out.data());
    return out;
}

}  // namespace katachi::io

// With KATACHI_EXTERN_KERNELS (a program that links libkatachi), the readers come compiled from the
// library (src/instances.cpp) instead of being compiled in every file that reads a data set.
#define KATACHI_IDX_INSTANCES(EXTERN)                                                      \
    EXTERN template idx_array read_idx<void>(const std::filesystem::path&);                \
    EXTERN template xt::xtensor<float, 4> read_idx_images<void>(const std::filesystem::path&); \
    EXTERN template xt::xtensor<std::int64_t, 1> read_idx_labels<void>(const std::filesystem::path&);
#if defined(KATACHI_EXTERN_KERNELS)
namespace katachi::io {
KATACHI_IDX_INSTANCES(extern)
}  // namespace katachi::io
#endif
