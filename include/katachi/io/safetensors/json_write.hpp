// katachi/io/safetensors/json_write.hpp: a JSON string as the safetensors writer
// (safetensors/save.hpp) emits it, escaped byte for byte as the earlier nlohmann-json based writer
// did: ", \, \b, \f, \n, \r, \t short, other control characters as \u00xx, everything
// else as UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace katachi::io::detail {

// Appends `s` (valid UTF-8) as a JSON string, escaped as nlohmann-json's dump escapes it.
inline void append_json_string(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out += '"';
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += ch;
                }
        }
    }
    out += '"';
}

}  // namespace katachi::io::detail
