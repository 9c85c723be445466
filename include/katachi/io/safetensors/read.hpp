// katachi/io/safetensors/read.hpp: reading a safetensors file, from disk or from memory (part of
// katachi/io/safetensors.hpp, which includes it). The whole header is validated before any tensor
// is filled, so a failed read returns nothing.
#pragma once

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <katachi/io/safetensors/error.hpp>
#include <katachi/io/safetensors/header.hpp>
#include <katachi/io/safetensors/tensor.hpp>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace katachi::io {

// Validates and decodes bytes already in memory; `name` stands for the file in error messages.
inline safetensors_file parse_safetensors(std::span<const std::byte> bytes, const std::string& name) {
    const std::uint64_t n =
        detail::check_header_length(bytes.size() >= 8 ? bytes.data() : nullptr, bytes.size(), name);
    const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), static_cast<std::size_t>(n));
    detail::checked_header header = detail::check_header(text, bytes.size() - 8 - n, name);

    safetensors_file out;
    out.file = name;
    out.metadata = std::move(header.metadata);
    const std::byte* data = bytes.data() + 8 + n;
    for (const detail::entry_info& e : header.entries) {
        tensor t = detail::empty_tensor(e);
        t.bytes.assign(data + e.begin, data + e.end);
        out.tensors.emplace(e.key, std::move(t));
    }
    return out;
}

// Reads and validates a whole file.
//
// It reads the header first and then each tensor straight into its own buffer, never the whole file
// at once.
inline safetensors_file load_safetensors(const std::filesystem::path& path) {
    const std::string name = path.string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        detail::fail(name, "", detail::rule::io,
                     std::filesystem::exists(path, ec) ? "not a regular file"
                                                       : "no such file (cannot open it for reading)");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        detail::fail(name, "", detail::rule::io,
                     std::string("cannot open the file for reading: ") + std::strerror(errno));
    in.seekg(0, std::ios::end);
    const std::streamoff end = in.tellg();
    in.seekg(0, std::ios::beg);
    if (end < 0 || !in) detail::fail(name, "", detail::rule::io, "cannot determine the file's size");
    const auto size = static_cast<std::uint64_t>(end);
    const auto read = [&](void* dst, std::uint64_t count, const std::string& key) {
        if (count > 0 && !in.read(static_cast<char*>(dst), static_cast<std::streamsize>(count)))
            detail::fail(name, key, detail::rule::io,
                         "reading " + std::to_string(count) +
                             " bytes failed (was the file changed while being read?)");
    };

    std::array<std::byte, 8> length{};
    if (size >= 8) read(length.data(), 8, "");
    const std::uint64_t n = detail::check_header_length(size >= 8 ? length.data() : nullptr, size, name);
    std::string text(static_cast<std::size_t>(n), '\0');
    read(text.data(), n, "");
    detail::checked_header header = detail::check_header(text, size - 8 - n, name);

    safetensors_file out;
    out.file = name;
    out.metadata = std::move(header.metadata);
    for (const detail::entry_info& e : header.entries) {  // sorted by offset and contiguous: read in order
        tensor t = detail::empty_tensor(e);
        t.bytes.resize(static_cast<std::size_t>(e.end - e.begin));
        read(t.bytes.data(), t.bytes.size(), e.key);
        out.tensors.emplace(e.key, std::move(t));
    }
    return out;
}

}  // namespace katachi::io
