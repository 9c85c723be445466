// katachi/io/safetensors.hpp: reading and writing the safetensors checkpoint format.
//
// A file is: 8 bytes little-endian header length N, N bytes of JSON header, then the tensor data.
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end)} relative to
// the start of the data, plus an optional "__metadata__" object of string to string.
//
// Reading validates the whole file before returning anything, so a failed load fills nothing.
// Every violation throws katachi::io::safetensors_error naming the file, the key and the rule.
// Writing is atomic: a temporary file in the target's folder, flushed, then renamed over it (see
// save_safetensors for how killed saves are cleaned up).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

namespace katachi::io {

enum class dtype { f16, bf16, f32, f64, i64 };

std::string_view dtype_name(dtype t);  // "F16", "BF16", "F32", "F64", "I64"
std::size_t dtype_size(dtype t);       // bytes per element

// The element types a tensor converts to and from: float (F32, and F16/BF16 on read), double (F64,
// and F16/BF16 on read), std::int64_t (I64). Other dtypes of the format ("U8", "I32", "BOOL", ...)
// are refused on read with rule unknown_dtype.
template <class T>
concept TensorElement = std::same_as<T, float> || std::same_as<T, double> || std::same_as<T, std::int64_t>;

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
};

// The rule's name as the messages print it, e.g. "offsets_order".
std::string_view rule_name(safetensors_rule rule);

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

// One tensor: its dtype, shape and little-endian bytes.
struct tensor {
    io::dtype type = dtype::f32;
    std::vector<std::size_t> shape;
    std::vector<std::byte> bytes;

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

// Reads and validates a whole file.
safetensors_file load_safetensors(const std::filesystem::path& path);

// Validates and decodes bytes already in memory; `name` stands for the file in error messages.
safetensors_file parse_safetensors(std::span<const std::byte> bytes, const std::string& name);

// Writes atomically: on any failure the target is unchanged and no temporary file remains.
//
// How: the file is written and fsync'd as a temporary in the target's folder, then renamed over
// the target (the rename is the atomic step), then the folder is fsync'd. On Linux the temporary
// is first unnamed (open with O_TMPFILE), so a process killed while writing leaves nothing
// behind; once complete it gets the name .<file name>.tmp-<pid>-<n> by linkat and is renamed.
// Where O_TMPFILE is not supported (EOPNOTSUPP, EISDIR, EINVAL) the temporary has that name from
// the start; if linkat fails the file is written again under that name. A kill -9 between naming
// and rename, or on that fallback path, can still leave a named temporary; so every save first
// removes the files of its folder named exactly .<file name>.tmp-<pid>-<n> whose <pid> is no live
// process (kill(pid, 0) fails with ESRCH). A temporary of a live process is never touched.
// Limits: a dead saver's pid reused by a new process keeps its temporary until that process ends;
// and pids are those of this process's pid namespace, so processes in different pid namespaces
// (containers) must not save to the same target at the same time, or one may take the other's
// temporary for a dead one's.
void save_safetensors(const std::filesystem::path& path, const tensor_map& tensors,
                      const metadata_map& metadata = {});

namespace detail {
// For tests: false makes save_safetensors skip O_TMPFILE and take the named-temporary path.
extern bool unnamed_temporaries;
}  // namespace detail

}  // namespace katachi::io
