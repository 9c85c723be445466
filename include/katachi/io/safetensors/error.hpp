// katachi/io/safetensors/error.hpp: how the safetensors reader and writer report a broken rule
// (part of katachi/io/safetensors.hpp, which includes it).
#pragma once

#include <katachi/error.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace katachi::io {

// Which rule of the format a file broke. Tests match on this; messages say it in words.
enum class safetensors_rule {
    io,              // the file cannot be opened, read or written
    header_length,   // the 8-byte length is missing, zero, too large, or past the end of the file
    header_json,     // the header is not well-formed JSON or not a JSON object
    metadata,        // "__metadata__" is not an object of string to string
    entry,           // an entry is not an object with exactly dtype, shape, data_offsets of the right types
    unknown_dtype,   // a dtype this reader does not know
    offsets_order,   // offsets do not start at 0, overlap, leave a hole, or have end < begin
    byte_size,       // end - begin differs from product(shape) * dtype size (overflow-checked)
    trailing_data,   // the last tensor does not end exactly at the end of the file
    duplicate_key,   // the same tensor name twice
    dtype_mismatch,  // asked for a tensor as a type it cannot be converted to
    missing_key,     // asked for a tensor the file does not hold
    uninitialized,   // an entry with no shape and no values (a lazy module's, before materialisation)
};

// The rule's name as the messages print it, e.g. "offsets_order".
inline std::string_view rule_name(safetensors_rule r) {
    switch (r) {
        case safetensors_rule::io:
            return "io";
        case safetensors_rule::header_length:
            return "header_length";
        case safetensors_rule::header_json:
            return "header_json";
        case safetensors_rule::metadata:
            return "metadata";
        case safetensors_rule::entry:
            return "entry";
        case safetensors_rule::unknown_dtype:
            return "unknown_dtype";
        case safetensors_rule::offsets_order:
            return "offsets_order";
        case safetensors_rule::byte_size:
            return "byte_size";
        case safetensors_rule::trailing_data:
            return "trailing_data";
        case safetensors_rule::duplicate_key:
            return "duplicate_key";
        case safetensors_rule::dtype_mismatch:
            return "dtype_mismatch";
        case safetensors_rule::missing_key:
            return "missing_key";
        case safetensors_rule::uninitialized:
            return "uninitialized";
    }
    return "unknown";
}

// what() reads: <file>: tensor "<key>": <detail> [safetensors rule: <rule name>]; an empty file or
// key is left out.
class safetensors_error : public std::runtime_error {
public:
    safetensors_error(std::string file, std::string key, safetensors_rule rule, const std::string& what);
    const std::string& file() const noexcept { return file_; }
    const std::string& key() const noexcept { return key_; }
    safetensors_rule rule() const noexcept { return rule_; }
    const std::string& detail() const noexcept { return detail_; }  // the `what` given, alone

private:
    std::string file_;
    std::string key_;
    safetensors_rule rule_;
    std::string detail_;
};

namespace detail {

using rule = safetensors_rule;

inline std::string compose(const std::string& file, const std::string& key, rule r,
                           const std::string& detail) {
    std::string s;
    if (!file.empty()) s += file + ": ";
    if (!key.empty()) s += "tensor \"" + key + "\": ";
    return s + detail + " [safetensors rule: " + std::string(rule_name(r)) + "]";
}

// Every failure of the reader and writer: the sentence is built once, by safetensors_error.
[[noreturn]] inline void fail(const std::string& file, const std::string& key, rule r,
                              const std::string& detail) {
    KATACHI_THROW(safetensors_error, file, key, r, detail);
}

}  // namespace detail

inline safetensors_error::safetensors_error(std::string file, std::string key, safetensors_rule rule,
                                            const std::string& what)
    : std::runtime_error(detail::compose(file, key, rule, what)),
      file_(std::move(file)),
      key_(std::move(key)),
      rule_(rule),
      detail_(what) {}

}  // namespace katachi::io
