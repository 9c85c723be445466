// katachi/io/safetensors/header.hpp: the checks of a safetensors file's header, the 8-byte length
// and the JSON that maps names to dtype, shape and data offsets (part of katachi/io/safetensors.hpp,
// which includes it). Every rule is checked before a reader fills any tensor.
//
// nlohmann-json is used without its exceptions: a malformed header is found by parsing with
// allow_exceptions = false, and nlohmann's own sentence for it comes from a SAX pass whose
// parse_error callback receives the error object unthrown. So the message is the same word for
// word in builds with and without -fno-exceptions, where a throwing nlohmann would abort.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <katachi/io/detail/shape_text.hpp>
#include <katachi/io/safetensors/error.hpp>
#include <katachi/io/safetensors/tensor.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

namespace katachi::io::detail {

using json = nlohmann::json;

// The safetensors reference implementation refuses headers above 100 MB; so does katachi.
inline constexpr std::uint64_t max_header_length = 100'000'000;

inline std::optional<dtype> dtype_from_name(std::string_view name) {
    for (dtype t : {dtype::f16, dtype::bf16, dtype::f32, dtype::f64, dtype::i64})
        if (dtype_name(t) == name) return t;
    return std::nullopt;
}

inline std::string json_type(const json& j) {
    if (j.is_number_unsigned()) return "a non-negative integer";
    if (j.is_number_integer()) return "a negative integer";
    if (j.is_number_float()) return "a floating-point number";
    return std::string("a") + (j.is_array() || j.is_object() ? "n " : " ") + j.type_name();
}

// One header entry once its own fields are valid.
struct entry_info {
    std::string key;
    dtype type;
    std::vector<std::size_t> shape;
    std::uint64_t begin;
    std::uint64_t end;
};

// A SAX handler that accepts every event: the passes below derive from it and hide the events they
// look at (nlohmann calls the handler's own type, so no virtual function is needed).
struct json_sax_skip {
    using number_integer_t = json::number_integer_t;
    using number_unsigned_t = json::number_unsigned_t;
    using number_float_t = json::number_float_t;
    using string_t = json::string_t;
    using binary_t = json::binary_t;

    bool null() { return true; }
    bool boolean(bool) { return true; }
    bool number_integer(number_integer_t) { return true; }
    bool number_unsigned(number_unsigned_t) { return true; }
    bool number_float(number_float_t, const string_t&) { return true; }
    bool string(string_t&) { return true; }
    bool binary(binary_t&) { return true; }
    bool start_object(std::size_t) { return true; }
    bool end_object() { return true; }
    bool start_array(std::size_t) { return true; }
    bool end_array() { return true; }
    bool key(string_t&) { return true; }
    bool parse_error(std::size_t, const std::string&, const json::exception&) { return false; }
};

// A SAX pass that only checks the syntax: parse_error keeps nlohmann's sentence for the fault.
class json_syntax_check : public json_sax_skip {
public:
    // What nlohmann said about the first fault; empty for well-formed JSON.
    const std::string& error() const { return error_; }

    bool parse_error(std::size_t, const std::string&, const json::exception& e) {
        error_ = e.what();
        return false;
    }

private:
    std::string error_;
};

// The first key seen twice in any object of the header, and the tensor it was found under. A SAX
// pass of its own, one set of keys per open object: linear in the header, where a callback given to
// json::parse would make nlohmann rescan each finished object's parent (quadratic in the entries).
class duplicate_finder : public json_sax_skip {
public:

    // (tensor, duplicated field) or (tensor, "") for a tensor named twice; nullopt if none.
    const std::optional<std::pair<std::string, std::string>>& first() const { return first_; }

    bool start_object(std::size_t) {
        open_objects_.emplace_back();
        return true;
    }
    bool end_object() {
        open_objects_.pop_back();
        return true;
    }
    bool key(string_t& k) {
        if (open_objects_.size() == 1) current_top_ = k;
        if (!open_objects_.back().insert(k).second) {
            if (open_objects_.size() == 1)
                first_.emplace(k, "");
            else
                first_.emplace(current_top_, k);
            return false;  // the first duplicate is all that is reported: stop here
        }
        return true;
    }

private:
    std::vector<std::unordered_set<std::string>> open_objects_;
    std::string current_top_;
    std::optional<std::pair<std::string, std::string>> first_;
};

inline json parse_header(std::string_view text, const std::string& name) {
    json header = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (header.is_discarded()) {
        json_syntax_check check;
        (void)json::sax_parse(text.begin(), text.end(), &check);
        fail(name, "", rule::header_json, "the header is not well-formed JSON: " + check.error());
    }
    // Well-formed, so the only way this pass stops early is at a duplicate key.
    duplicate_finder finder;
    (void)json::sax_parse(text.begin(), text.end(), &finder);
    if (finder.first()) {
        const auto& [tensor_key, field] = *finder.first();
        if (field.empty())
            fail(name, tensor_key, rule::duplicate_key, "the header names this tensor more than once");
        fail(name, tensor_key, rule::duplicate_key, "the field \"" + field + "\" appears more than once");
    }
    if (!header.is_object())
        fail(name, "", rule::header_json, "the header is " + json_type(header) + ", not a JSON object");
    return header;
}

inline metadata_map read_metadata(const json& j, const std::string& name) {
    if (!j.is_object())
        fail(name, "__metadata__", rule::metadata,
             "__metadata__ is " + json_type(j) + ", not an object of string to string");
    metadata_map out;
    for (const auto& [k, v] : j.items()) {
        if (!v.is_string())
            fail(name, "__metadata__", rule::metadata,
                 "the value of \"" + k + "\" is " + json_type(v) + "; __metadata__ maps strings to strings");
        out.emplace(k, v.get<std::string>());
    }
    return out;
}

inline std::vector<std::size_t> read_dims(const json& j, const std::string& name, const std::string& key,
                                          const char* field, std::optional<std::size_t> count) {
    const std::string want = count ? "an array of " + std::to_string(*count) + " non-negative integers"
                                   : std::string("an array of non-negative integers");
    if (!j.is_array())
        fail(name, key, rule::entry, std::string(field) + " is " + json_type(j) + ", not " + want);
    if (count && j.size() != *count)
        fail(name, key, rule::entry,
             std::string(field) + " has " + std::to_string(j.size()) + " elements, not " + want);
    std::vector<std::size_t> out;
    for (const json& d : j) {
        if (!d.is_number_unsigned())
            fail(name, key, rule::entry,
                 std::string(field) + " holds " + json_type(d) + "; it must be " + want);
        const auto v = d.get<std::uint64_t>();
        if (v > std::numeric_limits<std::size_t>::max())
            fail(name, key, rule::entry, std::string(field) + " holds a value too large for this host");
        out.push_back(static_cast<std::size_t>(v));
    }
    return out;
}

inline entry_info read_entry(const std::string& key, const json& j, const std::string& name) {
    if (!j.is_object())
        fail(name, key, rule::entry,
             "the entry is " + json_type(j) + ", not an object with dtype, shape and data_offsets");
    for (const auto& [field, value] : j.items()) {
        (void)value;
        if (field != "dtype" && field != "shape" && field != "data_offsets")
            fail(name, key, rule::entry,
                 "unexpected field \"" + field + "\"; an entry has exactly dtype, shape and data_offsets");
    }
    for (const char* field : {"dtype", "shape", "data_offsets"})
        if (!j.contains(field))
            fail(name, key, rule::entry,
                 std::string("the field \"") + field +
                     "\" is missing; an entry has dtype, shape and data_offsets");
    const json& dt = j.at("dtype");
    if (!dt.is_string()) fail(name, key, rule::entry, "dtype is " + json_type(dt) + ", not a string");
    const std::string dt_name = dt.get<std::string>();
    const auto type = dtype_from_name(dt_name);
    if (!type)
        fail(name, key, rule::unknown_dtype,
             "dtype \"" + dt_name + "\" is not one katachi reads (F16, BF16, F32, F64, I64)");
    entry_info e{key, *type, read_dims(j.at("shape"), name, key, "shape", std::nullopt), 0, 0};
    const auto offsets = read_dims(j.at("data_offsets"), name, key, "data_offsets", 2);
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
    const json header = parse_header(text, name);
    checked_header out;
    for (const auto& [key, value] : header.items()) {
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
