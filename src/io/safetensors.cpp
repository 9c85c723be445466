// katachi's safetensors reader and writer: every rule of the format is checked before any tensor
// is returned, and a save replaces its target only once the new file is complete on disk.
#include <katachi/error.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <katachi/io/safetensors.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_set>
#include <utility>

static_assert(std::endian::native == std::endian::little,
              "katachi's safetensors code copies little-endian bytes as they are: port it to this host");

namespace katachi::io {

namespace {

using json = nlohmann::json;
using rule = safetensors_rule;

// The safetensors reference implementation refuses headers above 100 MB; so does katachi.
constexpr std::uint64_t max_header_length = 100'000'000;

[[noreturn]] void fail(const std::string& file, const std::string& key, rule r, const std::string& detail) {
    KATACHI_THROW(safetensors_error, file, key, r, detail);
}

std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
    std::uint64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
    return r;
}

std::string shape_text(const std::vector<std::size_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// Bytes a tensor of this dtype and shape occupies, or nullopt if the count overflows 64 bits.
std::optional<std::uint64_t> byte_count(dtype t, const std::vector<std::size_t>& shape) {
    std::uint64_t n = dtype_size(t);
    for (std::size_t d : shape) {
        auto next = checked_mul(n, d);
        if (!next) return std::nullopt;
        n = *next;
    }
    return n;
}

std::optional<dtype> dtype_from_name(std::string_view name) {
    for (dtype t : {dtype::f16, dtype::bf16, dtype::f32, dtype::f64, dtype::i64})
        if (dtype_name(t) == name) return t;
    return std::nullopt;
}

std::string json_type(const json& j) {
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

// The first key seen twice in any object of the header, and the tensor it was found under. A SAX
// pass of its own, one set of keys per open object: linear in the header, where a callback given to
// json::parse would make nlohmann rescan each finished object's parent (quadratic in the entries).
class duplicate_finder {
public:
    using number_integer_t = json::number_integer_t;
    using number_unsigned_t = json::number_unsigned_t;
    using number_float_t = json::number_float_t;
    using string_t = json::string_t;
    using binary_t = json::binary_t;

    // (tensor, duplicated field) or (tensor, "") for a tensor named twice; nullopt if none.
    const std::optional<std::pair<std::string, std::string>>& first() const { return first_; }

    bool null() { return true; }
    bool boolean(bool) { return true; }
    bool number_integer(number_integer_t) { return true; }
    bool number_unsigned(number_unsigned_t) { return true; }
    bool number_float(number_float_t, const string_t&) { return true; }
    bool string(string_t&) { return true; }
    bool binary(binary_t&) { return true; }
    bool start_object(std::size_t) {
        open_objects_.emplace_back();
        return true;
    }
    bool end_object() {
        open_objects_.pop_back();
        return true;
    }
    bool start_array(std::size_t) { return true; }
    bool end_array() { return true; }
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
    bool parse_error(std::size_t, const std::string&, const json::exception&) { return false; }

private:
    std::vector<std::unordered_set<std::string>> open_objects_;
    std::string current_top_;
    std::optional<std::pair<std::string, std::string>> first_;
};

json parse_header(std::string_view text, const std::string& name) {
    json header;
    try {
        header = json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
        fail(name, "", rule::header_json, std::string("the header is not well-formed JSON: ") + e.what());
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

metadata_map read_metadata(const json& j, const std::string& name) {
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

std::vector<std::size_t> read_dims(const json& j, const std::string& name, const std::string& key,
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

entry_info read_entry(const std::string& key, const json& j, const std::string& name) {
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
void check_layout(std::vector<entry_info>& entries, std::uint64_t data_length, const std::string& name) {
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

// IEEE binary16 to float, exactly (every half value is a float).
float half_to_float(std::uint16_t h) {
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

float bfloat16_to_float(std::uint16_t b) {
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

}  // namespace

std::string_view dtype_name(dtype t) {
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

std::size_t dtype_size(dtype t) {
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

std::string_view rule_name(safetensors_rule r) {
    switch (r) {
        case rule::io:
            return "io";
        case rule::header_length:
            return "header_length";
        case rule::header_json:
            return "header_json";
        case rule::metadata:
            return "metadata";
        case rule::entry:
            return "entry";
        case rule::unknown_dtype:
            return "unknown_dtype";
        case rule::offsets_order:
            return "offsets_order";
        case rule::byte_size:
            return "byte_size";
        case rule::trailing_data:
            return "trailing_data";
        case rule::duplicate_key:
            return "duplicate_key";
        case rule::dtype_mismatch:
            return "dtype_mismatch";
        case rule::missing_key:
            return "missing_key";
    }
    return "unknown";
}

namespace {
std::string compose(const std::string& file, const std::string& key, rule r, const std::string& detail) {
    std::string s;
    if (!file.empty()) s += file + ": ";
    if (!key.empty()) s += "tensor \"" + key + "\": ";
    return s + detail + " [safetensors rule: " + std::string(rule_name(r)) + "]";
}
}  // namespace

safetensors_error::safetensors_error(std::string file, std::string key, safetensors_rule rule,
                                     const std::string& what)
    : std::runtime_error(compose(file, key, rule, what)),
      file_(std::move(file)),
      key_(std::move(key)),
      rule_(rule),
      detail_(what) {}

std::size_t tensor::element_count() const {
    std::uint64_t n = 1;
    for (std::size_t d : shape) {
        auto next = checked_mul(n, d);
        if (!next)
            fail("", "", rule::byte_size, "shape " + shape_text(shape) + " has more than 2^64 elements");
        n = *next;
    }
    return static_cast<std::size_t>(n);
}

template <TensorElement T>
xt::xarray<T> tensor::as() const {
    if (!converts_to<T>(type))
        fail("", "", rule::dtype_mismatch,
             "a " + std::string(dtype_name(type)) + " tensor of shape " + shape_text(shape) +
                 " cannot be read as " + std::string(type_text<T>()));
    const auto need = byte_count(type, shape);
    if (!need || *need != bytes.size())
        fail("", "", rule::byte_size,
             "a " + std::string(dtype_name(type)) + " tensor of shape " + shape_text(shape) + " holds " +
                 std::to_string(bytes.size()) + " bytes, which does not match its shape");
    xt::xarray<T> out = xt::xarray<T>::from_shape(shape);
    const std::size_t n = out.size();
    T* dst = out.data();
    const std::byte* src = bytes.data();
    if (type == dtype::f16 || type == dtype::bf16) {
        for (std::size_t i = 0; i < n; ++i) {
            std::uint16_t h;
            std::memcpy(&h, src + 2 * i, 2);
            dst[i] = static_cast<T>(type == dtype::f16 ? half_to_float(h) : bfloat16_to_float(h));
        }
    } else if (n > 0) {
        std::memcpy(dst, src, n * sizeof(T));
    }
    return out;
}

template <TensorElement T>
tensor tensor::from(std::span<const T> values, std::vector<std::size_t> shape) {
    tensor t;
    t.type = std::same_as<T, float> ? dtype::f32 : std::same_as<T, double> ? dtype::f64 : dtype::i64;
    t.shape = std::move(shape);
    const std::size_t n = t.element_count();
    if (n != values.size())
        fail("", "", rule::byte_size,
             std::to_string(values.size()) + " values cannot fill shape " + shape_text(t.shape) + " of " +
                 std::to_string(n) + " elements");
    t.bytes.resize(n * sizeof(T));
    if (n > 0) std::memcpy(t.bytes.data(), values.data(), n * sizeof(T));
    return t;
}

template xt::xarray<float> tensor::as<float>() const;
template xt::xarray<double> tensor::as<double>() const;
template xt::xarray<std::int64_t> tensor::as<std::int64_t>() const;
template tensor tensor::from<float>(std::span<const float>, std::vector<std::size_t>);
template tensor tensor::from<double>(std::span<const double>, std::vector<std::size_t>);
template tensor tensor::from<std::int64_t>(std::span<const std::int64_t>, std::vector<std::size_t>);

const tensor& safetensors_file::at(const std::string& key) const {
    const auto it = tensors.find(key);
    if (it != tensors.end()) return it->second;
    // Name a handful of neighbours in sorted order: enough to spot a typo, never the whole file.
    constexpr std::ptrdiff_t shown = 3;
    const auto near = tensors.lower_bound(key);
    auto first = near;
    for (std::ptrdiff_t i = 0; i < shown && first != tensors.begin(); ++i) --first;
    auto last = near;
    for (std::ptrdiff_t i = 0; i < shown && last != tensors.end(); ++i) ++last;
    std::string detail = "no such tensor; the file holds " + std::to_string(tensors.size()) + " tensor" +
                         (tensors.size() == 1 ? "" : "s");
    if (!tensors.empty()) {
        detail += first == tensors.begin() && last == tensors.end() ? ": " : ", among them: ";
        for (auto i = first; i != last; ++i) detail += (i == first ? "\"" : ", \"") + i->first + "\"";
    }
    fail(file, key, rule::missing_key, detail);
}

template <TensorElement T>
xt::xarray<T> safetensors_file::get(const std::string& key) const {
    const tensor& t = at(key);
    try {
        return t.as<T>();
    } catch (const safetensors_error& e) {
        fail(file, key, e.rule(), e.detail());
    }
}

template xt::xarray<float> safetensors_file::get<float>(const std::string&) const;
template xt::xarray<double> safetensors_file::get<double>(const std::string&) const;
template xt::xarray<std::int64_t> safetensors_file::get<std::int64_t>(const std::string&) const;

namespace {

// Checks the 8-byte header length (nullptr when the file is shorter) against the file's size.
std::uint64_t check_header_length(const std::byte* length_bytes, std::uint64_t file_size,
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

checked_header check_header(std::string_view text, std::uint64_t data_length, const std::string& name) {
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

tensor empty_tensor(const entry_info& e) {
    tensor t;
    t.type = e.type;
    t.shape = e.shape;
    return t;
}

}  // namespace

safetensors_file parse_safetensors(std::span<const std::byte> bytes, const std::string& name) {
    const std::uint64_t n =
        check_header_length(bytes.size() >= 8 ? bytes.data() : nullptr, bytes.size(), name);
    const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), static_cast<std::size_t>(n));
    checked_header header = check_header(text, bytes.size() - 8 - n, name);

    safetensors_file out;
    out.file = name;
    out.metadata = std::move(header.metadata);
    const std::byte* data = bytes.data() + 8 + n;
    for (const entry_info& e : header.entries) {
        tensor t = empty_tensor(e);
        t.bytes.assign(data + e.begin, data + e.end);
        out.tensors.emplace(e.key, std::move(t));
    }
    return out;
}

// Reads the header first and then each tensor straight into its own buffer, never the whole file
// at once.
safetensors_file load_safetensors(const std::filesystem::path& path) {
    const std::string name = path.string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        fail(name, "", rule::io,
             std::filesystem::exists(path, ec) ? "not a regular file"
                                               : "no such file (cannot open it for reading)");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(name, "", rule::io, std::string("cannot open the file for reading: ") + std::strerror(errno));
    in.seekg(0, std::ios::end);
    const std::streamoff end = in.tellg();
    in.seekg(0, std::ios::beg);
    if (end < 0 || !in) fail(name, "", rule::io, "cannot determine the file's size");
    const auto size = static_cast<std::uint64_t>(end);
    const auto read = [&](void* dst, std::uint64_t count, const std::string& key) {
        if (count > 0 && !in.read(static_cast<char*>(dst), static_cast<std::streamsize>(count)))
            fail(name, key, rule::io,
                 "reading " + std::to_string(count) +
                     " bytes failed (was the file changed while being read?)");
    };

    std::array<std::byte, 8> length{};
    if (size >= 8) read(length.data(), 8, "");
    const std::uint64_t n = check_header_length(size >= 8 ? length.data() : nullptr, size, name);
    std::string text(static_cast<std::size_t>(n), '\0');
    read(text.data(), n, "");
    checked_header header = check_header(text, size - 8 - n, name);

    safetensors_file out;
    out.file = name;
    out.metadata = std::move(header.metadata);
    for (const entry_info& e : header.entries) {  // sorted by offset and contiguous: read in order
        tensor t = empty_tensor(e);
        t.bytes.resize(static_cast<std::size_t>(e.end - e.begin));
        read(t.bytes.data(), t.bytes.size(), e.key);
        out.tensors.emplace(e.key, std::move(t));
    }
    return out;
}

namespace {

// The folder a save to `target` writes its temporary file into.
std::filesystem::path folder_of(const std::filesystem::path& target) {
    return target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
}

// ".<file name>.tmp-": how every temporary file name of a save to `target` starts.
std::string temporary_prefix(const std::filesystem::path& target) {
    std::string leaf = ".";  // appended piecewise: g++ 12 misreports `"." + std::string` (-Wrestrict)
    leaf += target.filename().string();
    leaf += ".tmp-";
    return leaf;
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The process that made temporary file `leaf`, if `leaf` is exactly <prefix><pid>-<n> with both
// numbers decimal; 0 for any other name.
::pid_t temporary_owner(std::string_view leaf, std::string_view prefix) {
    if (!leaf.starts_with(prefix)) return 0;
    leaf.remove_prefix(prefix.size());
    const std::size_t dash = leaf.find('-');
    if (dash == std::string_view::npos) return 0;
    const std::string_view pid_text = leaf.substr(0, dash);
    if (!all_digits(pid_text) || !all_digits(leaf.substr(dash + 1))) return 0;
    ::pid_t pid = 0;
    const auto [end, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
    if (ec != std::errc() || end != pid_text.data() + pid_text.size()) return 0;
    return pid;
}

// Removes the temporary files of saves to `target` whose process no longer exists: what a save
// killed between naming its temporary and renaming it leaves, or one killed on the fallback path.
// A temporary of a live process (this one's included) is in use and stays. Failures are ignored:
// cleaning up after others never fails a save.
void remove_stale_temporaries(const std::filesystem::path& target) {
    const std::string prefix = temporary_prefix(target);
    std::error_code ec;
    std::filesystem::directory_iterator it(folder_of(target), ec);
    for (const std::filesystem::directory_iterator end; !ec && it != end; it.increment(ec)) {
        const ::pid_t pid = temporary_owner(it->path().filename().string(), prefix);
        if (pid <= 0) continue;  // not a temporary name; and kill(0 or -1, ...) would mean groups
        if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
        (void)::unlink(it->path().c_str());
    }
}

// A temporary file beside the target. On Linux it starts unnamed (O_TMPFILE), so a save killed
// while writing leaves nothing; commit() names it .<file>.tmp-<pid>-<n> and renames that over the
// target. Where unnamed files are not supported it is created under that name from the start.
// Destruction before a successful commit removes it either way.
class temporary_file {
public:
    temporary_file(const std::filesystem::path& target, const std::string& name, bool try_unnamed)
        : name_(name), target_(target), dir_(folder_of(target)) {
#ifdef O_TMPFILE
        if (try_unnamed) {
            fd_ = ::open(dir_.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
            if (fd_ >= 0) return;
            if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) fail_to_create();
        }
#else
        (void)try_unnamed;
#endif
        for (int attempt = 0; attempt < 100; ++attempt) {
            path_ = next_name();
            fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (fd_ >= 0) {
                named_ = true;
                return;
            }
            if (errno != EEXIST) break;
        }
        fail_to_create();
    }
    temporary_file(const temporary_file&) = delete;
    temporary_file& operator=(const temporary_file&) = delete;
    ~temporary_file() {
        if (fd_ >= 0) ::close(fd_);  // an unnamed file vanishes here
        if (named_ && !committed_) ::unlink(path_.c_str());
    }

    void write(const void* data, std::size_t size) {
        const char* p = static_cast<const char*>(data);
        while (size > 0) {
            const ::ssize_t w = ::write(fd_, p, size);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) fail(name_, "", rule::io, std::string("writing failed: ") + std::strerror(errno));
            p += w;
            size -= static_cast<std::size_t>(w);
        }
    }

    // Flushes the file, names it if unnamed, renames it over the target and syncs the folder.
    // Returns false, with the target untouched, when an unnamed file cannot be given a name (linkat
    // failed): the caller then writes a named temporary instead. Any other failure throws.
    bool commit() {
        if (::fsync(fd_) != 0)
            fail(name_, "", rule::io, std::string("fsync failed: ") + std::strerror(errno));
        if (!named_ && !link_name()) return false;
        const int fd = std::exchange(fd_, -1);
        if (::close(fd) != 0)
            fail(name_, "", rule::io, std::string("closing failed: ") + std::strerror(errno));
        // linkat cannot replace an existing file; rename replaces the target atomically.
        if (::rename(path_.c_str(), target_.c_str()) != 0)
            fail(name_, "", rule::io,
                 "cannot rename the temporary file over the target: " + std::string(std::strerror(errno)));
        committed_ = true;
        // Make the rename itself durable; a failure here leaves a complete file, so it is not an error.
        const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd >= 0) {
            (void)::fsync(dir_fd);
            ::close(dir_fd);
        }
        return true;
    }

private:
    std::filesystem::path next_name() const {
        static std::atomic<unsigned> counter{0};
        return dir_ / (temporary_prefix(target_) + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    }

    // Gives the unnamed file a name in the folder; false if the system refuses.
    bool link_name() {
        const std::string self = "/proc/self/fd/" + std::to_string(fd_);
        for (int attempt = 0; attempt < 100; ++attempt) {
            path_ = next_name();
            if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path_.c_str(), AT_SYMLINK_FOLLOW) == 0) {
                named_ = true;
                return true;
            }
            if (errno != EEXIST) break;
        }
        return false;
    }

    [[noreturn]] void fail_to_create() const {
        fail(name_, "", rule::io,
             "cannot create a temporary file in " + dir_.string() + ": " + std::strerror(errno));
    }

    std::string name_;
    std::filesystem::path target_;
    std::filesystem::path dir_;
    std::filesystem::path path_;  // the name, once it has one
    int fd_ = -1;
    bool named_ = false;
    bool committed_ = false;
};

// Throws unless `s` can be written as a JSON string (valid UTF-8).
void require_utf8(const std::string& s, const std::string& name, const std::string& key, rule r,
                  const std::string& what) {
    try {
        (void)json(s).dump();
    } catch (const json::exception&) {
        fail(name, key, r, what + " is not valid UTF-8");
    }
}

}  // namespace

void save_safetensors(const std::filesystem::path& path, const tensor_map& tensors,
                      const metadata_map& metadata) {
    const std::string name = path.string();
    if (!path.has_filename()) fail(name, "", rule::io, "the path names a folder, not a file");

    // Everything is checked and the header built before the temporary file exists.
    json header = json::object();
    if (!metadata.empty()) {
        json m = json::object();
        for (const auto& [k, v] : metadata) {
            require_utf8(k, name, "__metadata__", rule::metadata, "the metadata key \"" + k + "\"");
            require_utf8(v, name, "__metadata__", rule::metadata, "the value of metadata key \"" + k + "\"");
            m[k] = v;
        }
        header["__metadata__"] = std::move(m);
    }
    std::uint64_t offset = 0;
    for (const auto& [key, t] : tensors) {
        if (key == "__metadata__")
            fail(name, key, rule::entry, "the name __metadata__ is reserved for the metadata object");
        require_utf8(key, name, key, rule::entry, "the tensor name");
        const auto need = byte_count(t.type, t.shape);
        if (!need)
            fail(name, key, rule::byte_size,
                 "shape " + shape_text(t.shape) + " needs more than 2^64 bytes (overflow)");
        if (*need != t.bytes.size())
            fail(name, key, rule::byte_size,
                 "shape " + shape_text(t.shape) + " of " + std::string(dtype_name(t.type)) + " needs " +
                     std::to_string(*need) + " bytes but the tensor holds " + std::to_string(t.bytes.size()));
        json shape = json::array();
        for (std::size_t d : t.shape) shape.push_back(static_cast<std::uint64_t>(d));
        json entry = json::object();
        entry["dtype"] = std::string(dtype_name(t.type));
        entry["shape"] = std::move(shape);
        entry["data_offsets"] = json::array({offset, offset + *need});
        header[key] = std::move(entry);
        offset += *need;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
    const std::uint64_t length = text.size();

    const auto write_file = [&](temporary_file& out) {
        out.write(&length, 8);
        out.write(text.data(), text.size());
        for (const auto& [key, t] : tensors)
            if (!t.bytes.empty()) out.write(t.bytes.data(), t.bytes.size());
    };
    remove_stale_temporaries(path);
    {
        temporary_file out(path, name, detail::unnamed_temporaries);
        write_file(out);
        if (out.commit()) return;
    }
    // The unnamed file could not be linked into the folder: write it again under a name.
    temporary_file out(path, name, false);
    write_file(out);
    (void)out.commit();
}

namespace detail {
bool unnamed_temporaries = true;
}

}  // namespace katachi::io
