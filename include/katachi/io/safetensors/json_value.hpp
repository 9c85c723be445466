// katachi/io/safetensors/json_value.hpp: what the safetensors header's JSON reader
// (safetensors/json.hpp) keeps of a value: its kind, an entry's fields and arrays, and the first
// duplicate key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace katachi::io::detail {

// Arrays and objects nested deeper than this are refused (a safetensors header has 3 levels).
inline constexpr std::size_t max_json_depth = 64;

enum class json_kind : unsigned char {
    null,
    boolean,
    non_negative,
    negative,
    floating,
    string,
    array,
    object
};

// How messages name a value of this kind: "a string", "an array", "a non-negative integer".
inline std::string json_kind_text(json_kind k) {
    switch (k) {
        case json_kind::null:
            return "a null";
        case json_kind::boolean:
            return "a boolean";
        case json_kind::non_negative:
            return "a non-negative integer";
        case json_kind::negative:
            return "a negative integer";
        case json_kind::floating:
            return "a floating-point number";
        case json_kind::string:
            return "a string";
        case json_kind::array:
            return "an array";
        case json_kind::object:
            return "an object";
    }
    return "an unknown value";
}

// An element of an entry's array: its kind and, for a non-negative integer, its value.
struct json_item {
    json_kind kind = json_kind::null;
    std::uint64_t number = 0;
};

// A value down to an entry's fields (see the top of this file for what is kept).
struct json_value {
    json_kind kind = json_kind::null;
    std::uint64_t number = 0;         // a non-negative integer's value
    std::string text;                 // a string's (down to an entry's fields)
    std::vector<json_item> items;     // an array's elements (an entry's fields' arrays)
    std::vector<std::string> keys;    // an object's keys in document order (outer object, entries)
    std::vector<json_value> members;  // and their values

    // The member named `key`, or nullptr.
    const json_value* find(std::string_view key) const {
        for (std::size_t i = 0; i < keys.size(); ++i)
            if (keys[i] == key) return &members[i];
        return nullptr;
    }

    // The members' indices in key order (std::string order), the order checks report in.
    std::vector<std::size_t> sorted() const {
        std::vector<std::size_t> order(keys.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(),
                  [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
        return order;
    }
};

// The first key seen twice in an object, in document order: under which tensor (the last key of
// the outermost object) and which key ("" when the tensor's own name is the duplicate).
struct json_duplicate {
    std::string tensor;
    std::string field;
};

}  // namespace katachi::io::detail
