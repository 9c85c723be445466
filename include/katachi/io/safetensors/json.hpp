// katachi/io/safetensors/json.hpp: the JSON of a safetensors header, read and written by hand (part
// of katachi/io/safetensors.hpp, which includes it).
//
// A header is a flat object: name -> {"dtype", "shape", "data_offsets"}, plus an optional
// "__metadata__" object of string to string. The reader takes any JSON (RFC 8259: strict number
// grammar, escapes, UTF-8 checked byte by byte) but keeps only what the format's checks look at:
// the members of the outer object and of each entry, strings and numbers up to an entry's fields,
// and the kind and number of each element of an entry's arrays. Anything deeper is checked for
// syntax and duplicate keys, then dropped, so memory stays proportional to what a valid header
// needs. Nesting deeper than max_json_depth is refused (a header needs 3 levels), which bounds the
// recursion. Every fault is reported through fail() (rule header_json or duplicate_key) with its
// byte, line and column, so a malformed header is an exception, never a crash.
//
// The writer side, append_json_string, is safetensors/json_write.hpp; the kept values are
// safetensors/json_value.hpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <katachi/io/safetensors/error.hpp>
#include <katachi/io/safetensors/json_value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace katachi::io::detail {

class json_reader {
public:
    json_reader(std::string_view text, const std::string& name) : text_(text), name_(name) {}

    // Parses the whole text as one JSON value; fails (rule header_json) on a syntax error, then
    // (rule duplicate_key) on the first duplicate key.
    json_value parse() {
        json_value root = value(0);
        skip_space();
        if (at_ != text_.size()) syntax("unexpected text after the JSON value");
        if (duplicate_) {
            if (duplicate_->field.empty())
                fail(name_, duplicate_->tensor, rule::duplicate_key,
                     "the header names this tensor more than once");
            fail(name_, duplicate_->tensor, rule::duplicate_key,
                 "the field \"" + duplicate_->field + "\" appears more than once");
        }
        return root;
    }

private:
    [[noreturn]] void syntax(const std::string& what) const {
        std::size_t line = 1, column = 1;
        for (std::size_t i = 0; i < at_ && i < text_.size(); ++i) {
            if (text_[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        fail(name_, "", rule::header_json,
             "the header is not well-formed JSON: " + what + " at byte " + std::to_string(at_) + " (line " +
                 std::to_string(line) + ", column " + std::to_string(column) + ")");
    }

    // What stands at the current position, for messages.
    std::string found() const {
        if (at_ >= text_.size()) return "the end of the header";
        const auto c = static_cast<unsigned char>(text_[at_]);
        if (c >= 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
        static const char hex[] = "0123456789abcdef";
        return std::string("byte 0x") + hex[c >> 4] + hex[c & 15];
    }

    void skip_space() {
        while (at_ < text_.size() &&
               (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r'))
            ++at_;
    }

    bool take(char c) {
        if (at_ < text_.size() && text_[at_] == c) {
            ++at_;
            return true;
        }
        return false;
    }

    void expect(char c, const char* what) {
        skip_space();
        if (!take(c)) syntax(std::string("expected ") + what + ", found " + found());
    }

    // depth: 0 the outer value, 1 its members, 2 an entry's fields, 3 their elements.
    json_value value(std::size_t depth) {
        skip_space();
        json_value v;
        if (at_ >= text_.size()) syntax("expected a value, found the end of the header");
        const char c = text_[at_];
        if (c == '{') {
            v.kind = json_kind::object;
            object(v, depth);
        } else if (c == '[') {
            v.kind = json_kind::array;
            array(v, depth);
        } else if (c == '"') {
            v.kind = json_kind::string;
            std::string s = string();
            if (depth <= 2) v.text = std::move(s);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            number(v);
        } else if (literal("true") || literal("false")) {
            v.kind = json_kind::boolean;
        } else if (literal("null")) {
            v.kind = json_kind::null;
        } else {
            syntax("expected a value (an object, array, string, number, true, false or null), found " +
                   found());
        }
        return v;
    }

    bool literal(std::string_view word) {
        if (text_.substr(at_, word.size()) != word) return false;
        at_ += word.size();
        return true;
    }

    void enter(std::size_t depth) const {
        if (depth >= max_json_depth)
            syntax("arrays and objects nest more than " + std::to_string(max_json_depth) +
                   " levels deep (a safetensors header needs 3)");
    }

    void object(json_value& v, std::size_t depth) {
        enter(depth);
        ++at_;  // '{'
        ++open_objects_;
        std::unordered_set<std::string> seen;
        skip_space();
        if (!take('}')) {
            for (;;) {
                skip_space();
                if (at_ >= text_.size() || text_[at_] != '"')
                    syntax("expected a key (a string), found " + found());
                std::string key = string();
                if (open_objects_ == 1) top_key_ = key;
                if (!duplicate_ && !seen.insert(key).second) {
                    if (open_objects_ == 1)
                        duplicate_ = json_duplicate{key, ""};
                    else
                        duplicate_ = json_duplicate{top_key_, key};
                }
                expect(':', "':' after a key");
                json_value member = value(depth + 1);
                if (depth <= 1) {
                    v.keys.push_back(std::move(key));
                    v.members.push_back(std::move(member));
                }
                skip_space();
                if (take('}')) break;
                if (!take(',')) syntax("expected ',' or '}' in an object, found " + found());
            }
        }
        --open_objects_;
    }

    void array(json_value& v, std::size_t depth) {
        enter(depth);
        ++at_;  // '['
        skip_space();
        if (take(']')) return;
        for (;;) {
            json_value element = value(depth + 1);
            if (depth == 2) v.items.push_back({element.kind, element.number});
            skip_space();
            if (take(']')) return;
            if (!take(',')) syntax("expected ',' or ']' in an array, found " + found());
        }
    }

    void number(json_value& v) {
        const bool negative = take('-');
        const auto digit = [&] { return at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9'; };
        if (!digit()) syntax("expected a digit in a number, found " + found());
        bool overflow = false;
        std::uint64_t n = 0;
        if (take('0')) {
            if (digit()) syntax("a number has a leading zero");
        } else {
            while (digit()) {
                const auto d = static_cast<std::uint64_t>(text_[at_] - '0');
                if (n > (UINT64_MAX - d) / 10) overflow = true;
                n = n * 10 + d;
                ++at_;
            }
        }
        bool fraction = false;
        if (take('.')) {
            fraction = true;
            if (!digit()) syntax("expected a digit after a decimal point, found " + found());
            while (digit()) ++at_;
        }
        if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
            fraction = true;
            ++at_;
            const bool minus = !take('+') && take('-');
            if (!digit()) syntax("expected a digit in an exponent, found " + found());
            std::size_t exponent = 0;
            while (digit()) {
                if (exponent < 100000) exponent = exponent * 10 + static_cast<std::size_t>(text_[at_] - '0');
                ++at_;
            }
            // As nlohmann-json refused them: a number beyond a double's range (about 1.8e308). A
            // conservative test on the exponent alone; such a number is never a valid entry's.
            if (!minus && exponent > 400)
                syntax("number overflow: the exponent " + std::to_string(exponent) +
                       " puts the number beyond a double's range");
        }
        // As nlohmann-json typed numbers: an integer too large for its type is a floating-point one.
        if (fraction || overflow || (negative && n > std::uint64_t{1} << 63))
            v.kind = json_kind::floating;
        else if (negative)
            v.kind = json_kind::negative;
        else
            v.kind = json_kind::non_negative;
        v.number = v.kind == json_kind::non_negative ? n : 0;
    }

    unsigned hex4() {
        if (text_.size() - at_ < 4) {
            at_ = text_.size();
            syntax("a \\u escape needs 4 hexadecimal digits");
        }
        unsigned u = 0;
        for (int i = 0; i < 4; ++i, ++at_) {
            const char c = text_[at_];
            u <<= 4;
            if (c >= '0' && c <= '9')
                u |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f')
                u |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                u |= static_cast<unsigned>(c - 'A' + 10);
            else
                syntax("a \\u escape needs 4 hexadecimal digits, found " + found());
        }
        return u;
    }

    static void append_utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    // A string at the current '"', unescaped.
    std::string string() {
        ++at_;  // '"'
        std::string out;
        for (;;) {
            if (at_ >= text_.size()) syntax("a string is not closed before the end of the header");
            const auto c = static_cast<unsigned char>(text_[at_]);
            if (c == '"') {
                ++at_;
                return out;
            }
            if (c < 0x20) syntax("a control character must be escaped in a string, found " + found());
            if (c == '\\') {
                ++at_;
                if (at_ >= text_.size()) syntax("a string is not closed before the end of the header");
                const char e = text_[at_];
                ++at_;
                switch (e) {
                    case '"':
                    case '\\':
                    case '/':
                        out += e;
                        break;
                    case 'b':
                        out += '\b';
                        break;
                    case 'f':
                        out += '\f';
                        break;
                    case 'n':
                        out += '\n';
                        break;
                    case 'r':
                        out += '\r';
                        break;
                    case 't':
                        out += '\t';
                        break;
                    case 'u': {
                        unsigned cp = hex4();
                        if (cp >= 0xDC00 && cp <= 0xDFFF)
                            syntax("a \\u escape is a low surrogate without a high one before it");
                        if (cp >= 0xD800 && cp <= 0xDBFF) {
                            if (!(take('\\') && take('u')))
                                syntax("a \\u escape of a high surrogate is not followed by a low one");
                            const unsigned low = hex4();
                            if (low < 0xDC00 || low > 0xDFFF)
                                syntax("a \\u escape of a high surrogate is not followed by a low one");
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        }
                        append_utf8(out, cp);
                        break;
                    }
                    default:
                        --at_;
                        syntax("a string holds an unknown escape \\" + found());
                }
                continue;
            }
            const std::size_t n = utf8_sequence(text_, at_);
            if (n == 0) syntax("a string holds invalid UTF-8, starting with " + found());
            out.append(text_.data() + at_, n);
            at_ += n;
        }
    }

public:
    // The length of the well-formed UTF-8 sequence (RFC 3629) starting at s[i], or 0 if there is none.
    static std::size_t utf8_sequence(std::string_view s, std::size_t i) {
        const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
        const auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
            return i + k < s.size() && b(k) >= lo && b(k) <= hi;
        };
        const unsigned char c = b(0);
        if (c < 0x80) return 1;
        if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
        if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
        if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
        if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;  // no surrogates
        if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
        if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
        if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
        return 0;
    }

private:
    std::string_view text_;
    const std::string& name_;
    std::size_t at_ = 0;
    std::size_t open_objects_ = 0;
    std::string top_key_;
    std::optional<json_duplicate> duplicate_;
};

inline bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = json_reader::utf8_sequence(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

}  // namespace katachi::io::detail
