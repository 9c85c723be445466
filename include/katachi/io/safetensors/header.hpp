// katachi/io/safetensors/header.hpp: the checks of a safetensors file's header, the 8-byte length
// and the JSON that maps names to dtype, shape and data offsets (part of katachi/io/safetensors.hpp,
// which includes it). Every rule is checked before a reader fills any tensor.
//
// The JSON itself is read by safetensors/json.hpp, which reports through fail() like every check
// here, so the messages are the same word for word in builds with and without -fno-exceptions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <katachi/io/detail/shape_text.hpp>
#include <katachi/io/safetensors/error.hpp>
#include <katachi/io/safetensors/json.hpp>
#include <katachi/io/safetensors/tensor.hpp>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace katachi::io::detail {

// The safetensors reference implementation refuses headers above 100 MB; so does katachi.
inline constexpr std::uint64_t max_header_length = 100'000'000;

inline std::optional<dtype> dtype_from_name(std::string_view name) {
    for (dtype t : {dtype::f16, dtype::bf16, dtype::f32, dtype::f64, dtype::i64})
        if (dtype_name(t) == name) return t;
    return std::nullopt;
}

// One header entry once its own fields are valid.
struct entry_info {
    std::string key;
    dtype type;
    std::vector<std::size_t> shape;
    std::uint64_t begin;
    std::uint64_t end;
};

// Syntax first (rule header_json), then duplicate keys (rule duplicate_key), then the outer value
// must be an object (rule header_json).
inline json_value parse_header(std::string_view text, const std::string& name) {
    json_value header = json_reader(text, name).parse();
    if (header.kind != json_kind::object)
        fail(name, "", rule::header_json,
             "the header is " + json_kind_text(header.kind) + ", not a JSON object");
    return header;
}

inline metadata_map read_metadata(const json_value& j, const std::string& name) {
    if (j.kind != json_kind::object)
        fail(name, "__metadata__", rule::metadata,
             "__metadata__ is " + json_kind_text(j.kind) + ", not an object of string to string");
    metadata_map out;
    for (const std::size_t i : j.sorted()) {
        const std::string& k = j.keys[i];
        const json_value& v = j.members[i];
        if (v.kind != json_kind::string)
            fail(name, "__metadata__", rule::metadata,
                 "the value of \"" + k + "\" is " + json_kind_text(v.kind) +
                     "; __metadata__ maps strings to strings");
        out.emplace(k, v.text);
    }
    return out;
}

inline std::vector<std::size_t> read_dims(const json_value& j, const std::string& name, const std::string& key,
                                          const char* field, std::optional<std::size_t> count) {
    const std::string want = count ? "an array of " + std::to_string(*count) + " non-negative integers"
                                   : std::string("an array of non-negative integers");
    if (j.kind != json_kind::array)
        fail(name, key, rule::entry, std::string(field) + " is " + json_kind_text(j.kind) + ", not " + want);
    if (count && j.items.size() != *count)
        fail(name, key, rule::entry,
             std::string(field) + " has " + std::to_string(j.items.size()) + " elements, not " + want);
    std::vector<std::size_t> out;
    for (const json_item& d : j.items) {
        if (d.kind != json_kind::non_negative)
            fail(name, key, rule::entry,
                 std::string(field) + " holds " + json_kind_text(d.kind) + "; it must be " + want);
        if (d.number > std::numeric_limits<std::size_t>::max())
            fail(name, key, rule::entry, std::string(field) + " holds a value too large for this host");
        out.push_back(static_cast<std::size_t>(d.number));
    }
    return out;
}

inline entry_info read_entry(const std::string& key, const json_value& j, const std::string& name) {
    if (j.kind != json_kind::object)
        fail(name, key, rule::entry,
             "the entry is " + json_kind_text(j.kind) + ", not an object with dtype, shape and data_offsets");
    for (const std::size_t i : j.sorted()) {
        const std::string& field = j.keys[i];
        if (field != "dtype" && field != "shape" && field != "data_offsets")
            fail(name, key, rule::entry,
                 "unexpected field \"" + field + "\"; an entry has exactly dtype, shape and data_offsets");
    }
    for (const char* field : {"dtype", "shape", "data_offsets"})
        if (!j.find(field))
            fail(name, key, rule::entry,
                 std::string("the field \"") + field +
                     "\" is missing; an entry has dtype, shape and data_offsets");
    const json_value& dt = *j.find("dtype");
    if (dt.kind != json_kind::string)
        fail(name, key, rule::entry, "dtype is " + json_kind_text(dt.kind) + ", not a string");
    const std::string& dt_name = dt.text;
    const auto type = dtype_from_name(dt_name);
    if (!type)
        fail(name, key, rule::unknown_dtype,
             "dtype \"" + dt_name + "\" is not one katachi reads (F16, BF16, F32, F64, I64)");
    entry_info e{key, *type, read_dims(*j.find("shape"), name, key, "shape", std::nullopt), 0, 0};
    const auto offsets = read_dims(*j.find("data_offsets"), name, key, "data_offsets", 2);
    e.begin = offsets[0];
    e.end = offsets[1];
    if (e.end < e.begin)
        fail(name, key, rule::offsets_order,
             "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                 "] end before they begin");
    const auto need = byte_count(e.type, e.shape);
    if (!need)
        fail(name, key, rule::byte_size,
             "shape " + shape_text(e.shape) + " of " + dt_name + " needs more than 2^64 bytes (overflow)");
    if (*need != e.end - e.begin)
        fail(name, key, rule::byte_size,
             "shape " + shape_text(e.shape) + " of " + dt_name + " needs " + std::to_string(*need) +
                 " bytes but data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                 "] hold " + std::to_string(e.end - e.begin));
    return e;
}

// Offsets start at 0, follow one another without overlap or hole, and end with the data section.
inline void check_layout(std::vector<entry_info>& entries, std::uint64_t data_length,
                         const std::string& name) {
    std::sort(entries.begin(), entries.end(), [](const entry_info& a, const entry_info& b) {
        return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
    });
    std::uint64_t expected = 0;
    const entry_info* previous = nullptr;
    for (const entry_info& e : entries) {
        const std::string where =
            "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
        if (e.begin != expected) {
            if (!previous)
                fail(name, e.key, rule::offsets_order,
                     where + " do not start at 0; the first tensor's data begins the data section");
            if (e.begin > expected)
                fail(name, e.key, rule::offsets_order,
                     where + " leave a hole of " + std::to_string(e.begin - expected) +
                         " bytes after tensor \"" + previous->key + "\", which ends at " +
                         std::to_string(expected));
            fail(name, e.key, rule::offsets_order,
                 where + " overlap tensor \"" + previous->key + "\", which ends at " +
                     std::to_string(expected));
        }
        expected = e.end;
        previous = &e;
    }
    if (expected != data_length) {
        const std::string last = previous ? previous->key : "";
        if (expected < data_length)
            fail(name, last, rule::trailing_data,
                 std::to_string(data_length - expected) +
                     " bytes follow the last tensor, which ends at data byte " + std::to_string(expected) +
                     " of " + std::to_string(data_length));
        fail(name, last, rule::trailing_data,
             "the tensors need " + std::to_string(expected) + " data bytes but the file holds only " +
                 std::to_string(data_length) + " after the header (truncated)");
    }
}

// Checks the 8-byte header length (nullptr when the file is shorter) against the file's size.
inline std::uint64_t check_header_length(const std::byte* length_bytes, std::uint64_t file_size,
                                         const std::string& name) {
    if (!length_bytes || file_size < 8)
        fail(name, "", rule::header_length,
             "the file has " + std::to_string(file_size) + " bytes, too few for the 8-byte header length");
    std::uint64_t n = 0;
    std::memcpy(&n, length_bytes, 8);
    if (n < 2)
        fail(name, "", rule::header_length,
             "the header length is " + std::to_string(n) +
                 ", below 2, the size of the smallest header \"{}\"");
    if (n > max_header_length)
        fail(name, "", rule::header_length,
             "the header length " + std::to_string(n) + " exceeds katachi's limit of " +
                 std::to_string(max_header_length) + " bytes");
    if (n > file_size - 8)
        fail(name, "", rule::header_length,
             "the header length " + std::to_string(n) + " runs past the end of the file, which has " +
                 std::to_string(file_size - 8) + " bytes after the length");
    return n;
}

// A header that broke no rule: its metadata, and its entries sorted by offset, ready to be filled.
struct checked_header {
    metadata_map metadata;
    std::vector<entry_info> entries;
};

inline checked_header check_header(std::string_view text, std::uint64_t data_length,
                                   const std::string& name) {
    const json_value header = parse_header(text, name);
    checked_header out;
    for (const std::size_t i : header.sorted()) {
        const std::string& key = header.keys[i];
        const json_value& value = header.members[i];
        if (key == "__metadata__")
            out.metadata = read_metadata(value, name);
        else
            out.entries.push_back(read_entry(key, value, name));
    }
    check_layout(out.entries, data_length, name);
    return out;
}

inline tensor empty_tensor(const entry_info& e) {
    tensor t;
    t.type = e.type;
    t.shape = e.shape;
    return t;
}

}  // namespace katachi::io::detail
