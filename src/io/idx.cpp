// katachi's IDX reader: the header is checked and the element count worked out (overflow-checked)
// before any data is read; the data must then fill the file exactly. zlib reads both gzip'd and
// plain files, telling them apart by the gzip magic 1f 8b.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>
#include <katachi/io/idx.hpp>
#include <optional>
#include <string>

namespace katachi::io {

idx_error::idx_error(const std::string& file, const std::string& what)
    : std::runtime_error(file + ": " + what), file_(file) {}

namespace {

constexpr const char* install_hint =
    "install the Debian package dataset-fashion-mnist (apt install dataset-fashion-mnist)";

std::size_t element_size(std::uint8_t type_code) {
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

std::string hex_byte(unsigned v) {
    constexpr char digits[] = "0123456789abcdef";
    return std::string("0x") + digits[(v >> 4) & 0xF] + digits[v & 0xF];
}

// An open file read through zlib; gzread passes plain files through unchanged.
class gz_input {
public:
    explicit gz_input(const std::filesystem::path& path) : name_(path.string()) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) throw idx_error(name_, "no such file");
        if (std::filesystem::is_directory(path, ec)) throw idx_error(name_, "is a folder, not an IDX file");
        file_ = gzopen(path.c_str(), "rb");
        if (!file_) throw idx_error(name_, std::string("cannot open the file: ") + std::strerror(errno));
        gzbuffer(file_, 1 << 17);
    }
    gz_input(const gz_input&) = delete;
    gz_input& operator=(const gz_input&) = delete;
    ~gz_input() { gzclose_r(file_); }

    // Reads up to `size` bytes; fewer only at the end of the (decompressed) data.
    std::size_t read(void* dst, std::size_t size) {
        auto* p = static_cast<unsigned char*>(dst);
        std::size_t got = 0;
        while (got < size) {
            const auto chunk = static_cast<unsigned>(std::min<std::size_t>(size - got, INT_MAX));
            const int n = gzread(file_, p + got, chunk);
            check();
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        return got;
    }

    // Bytes left before the end of the data, read and discarded.
    std::uint64_t count_rest() {
        std::array<unsigned char, 1 << 16> scratch;
        std::uint64_t total = 0;
        for (std::size_t n; (n = read(scratch.data(), scratch.size())) > 0;) total += n;
        return total;
    }

    bool compressed() const { return gzdirect(file_) == 0; }
    const std::string& name() const { return name_; }

private:
    void check() {
        int err = Z_OK;
        const char* message = gzerror(file_, &err);
        if (err == Z_OK) return;
        if (err == Z_ERRNO) throw idx_error(name_, std::string("reading failed: ") + std::strerror(errno));
        if (err == Z_BUF_ERROR)
            throw idx_error(name_, "the gzip stream is truncated (" + std::string(message) + ")");
        throw idx_error(name_, "the gzip stream is corrupt (" + std::string(message) + ")");
    }

    std::string name_;
    gzFile file_ = nullptr;
};

// A file's header and its raw big-endian data, checked against each other.
struct raw_idx {
    std::uint8_t type_code = 0;
    std::vector<std::size_t> shape;
    std::vector<unsigned char> data;
};

raw_idx read_raw(const std::filesystem::path& path) {
    gz_input in(path);
    const std::string& name = in.name();
    std::array<unsigned char, 4> magic{};
    const std::size_t got_magic = in.read(magic.data(), 4);
    if (got_magic < 4)
        throw idx_error(
            name, "the file holds " + std::to_string(got_magic) + " bytes, too few for the 4-byte IDX magic");
    if (magic[0] != 0 || magic[1] != 0)
        throw idx_error(name, "bad magic: an IDX file starts with two zero bytes, this one with " +
                                  hex_byte(magic[0]) + " " + hex_byte(magic[1]));
    raw_idx out;
    out.type_code = magic[2];
    const std::size_t elem = element_size(out.type_code);
    if (elem == 0)
        throw idx_error(
            name, "unknown type code " + hex_byte(magic[2]) + " (known: 0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e)");
    const unsigned rank = magic[3];
    if (rank < 1 || rank > 4) throw idx_error(name, "rank " + std::to_string(rank) + " is outside 1..4");

    std::array<unsigned char, 16> dims{};
    const std::size_t header = 4 + 4 * std::size_t{rank};
    const std::size_t got_dims = in.read(dims.data(), 4 * rank);
    if (got_dims < 4 * rank)
        throw idx_error(name, "truncated header: expected " + std::to_string(header) + " bytes for rank " +
                                  std::to_string(rank) + ", found " + std::to_string(4 + got_dims));
    std::uint64_t expected = elem;
    for (unsigned i = 0; i < rank; ++i) {
        const std::uint32_t d = (std::uint32_t{dims[4 * i]} << 24) | (std::uint32_t{dims[4 * i + 1]} << 16) |
                                (std::uint32_t{dims[4 * i + 2]} << 8) | std::uint32_t{dims[4 * i + 3]};
        out.shape.push_back(d);
        if (__builtin_mul_overflow(expected, std::uint64_t{d}, &expected))
            throw idx_error(name, "the dimensions' byte count overflows 64 bits");
    }
    const std::string stored = in.compressed() ? " (after gzip decompression)" : "";

    // Grow the buffer as data arrives, so a header claiming huge dimensions cannot allocate them.
    std::uint64_t got = 0;
    while (got < expected) {
        const std::uint64_t chunk = std::min<std::uint64_t>(expected - got, std::uint64_t{1} << 26);
        out.data.resize(static_cast<std::size_t>(got + chunk));
        const std::size_t n = in.read(out.data.data() + got, static_cast<std::size_t>(chunk));
        got += n;
        if (n < chunk) break;
    }
    if (got < expected)
        throw idx_error(name, "truncated data: expected " + std::to_string(expected) +
                                  " data bytes after the " + std::to_string(header) + "-byte header, found " +
                                  std::to_string(got) + stored);
    const std::uint64_t extra = in.count_rest();
    if (extra > 0)
        throw idx_error(name, "trailing data: expected " + std::to_string(expected) +
                                  " data bytes after the " + std::to_string(header) + "-byte header, found " +
                                  std::to_string(expected + extra) + " (" + std::to_string(extra) +
                                  " bytes too many)" + stored);
    return out;
}

template <class U>
U load_big_endian(const unsigned char* p) {
    U v = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i) v = static_cast<U>((v << 8) | p[i]);
    return v;
}

std::string shape_text(const std::vector<std::size_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// An unsigned-byte file of the given rank, or an error saying what it is instead.
raw_idx read_unsigned_bytes(const std::filesystem::path& path, std::size_t rank, const char* what) {
    raw_idx raw = read_raw(path);
    if (raw.type_code != 0x08 || raw.shape.size() != rank)
        throw idx_error(path.string(), std::string("expected ") + what + " (type code 0x08, rank " +
                                           std::to_string(rank) + "), found type code " +
                                           hex_byte(raw.type_code) + " with shape " + shape_text(raw.shape));
    return raw;
}

}  // namespace

idx_array read_idx(const std::filesystem::path& path) {
    raw_idx raw = read_raw(path);
    idx_array out;
    out.type_code = raw.type_code;
    out.shape = raw.shape;
    const unsigned char* p = raw.data.data();
    const std::size_t n = raw.data.size() / element_size(raw.type_code);
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
                v = static_cast<std::int16_t>(load_big_endian<std::uint16_t>(p + 2 * i));
                break;
            case 0x0C:
                v = static_cast<std::int32_t>(load_big_endian<std::uint32_t>(p + 4 * i));
                break;
            case 0x0D:
                v = std::bit_cast<float>(load_big_endian<std::uint32_t>(p + 4 * i));
                break;
            case 0x0E:
                v = std::bit_cast<double>(load_big_endian<std::uint64_t>(p + 8 * i));
                break;
        }
        out.values[i] = v;
    }
    return out;
}

xt::xtensor<float, 4> read_idx_images(const std::filesystem::path& path) {
    const raw_idx raw = read_unsigned_bytes(path, 3, "unsigned-byte images [N, rows, cols]");
    std::array<float, 256> scaled{};
    for (unsigned v = 0; v < 256; ++v) scaled[v] = static_cast<float>(v) / 255.0f;
    xt::xtensor<float, 4> out =
        xt::xtensor<float, 4>::from_shape({raw.shape[0], 1, raw.shape[1], raw.shape[2]});
    float* dst = out.data();
    for (std::size_t i = 0; i < raw.data.size(); ++i) dst[i] = scaled[raw.data[i]];
    return out;
}

xt::xtensor<std::int64_t, 1> read_idx_labels(const std::filesystem::path& path) {
    const raw_idx raw = read_unsigned_bytes(path, 1, "unsigned-byte labels [N]");
    xt::xtensor<std::int64_t, 1> out = xt::xtensor<std::int64_t, 1>::from_shape({raw.shape[0]});
    std::copy(raw.data.begin(), raw.data.end(), out.data());
    return out;
}

fashion_mnist load_fashion_mnist(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw idx_error(dir.string(), "the Fashion-MNIST folder does not exist; " +
                                          std::string(install_hint) +
                                          ", or pass the folder that holds the four files");
    const auto file = [&](const char* leaf) {
        const std::filesystem::path p = dir / leaf;
        if (!std::filesystem::exists(p, ec))
            throw idx_error(p.string(), "missing Fashion-MNIST file; " + std::string(install_hint));
        return p;
    };
    const auto pair = [&](const char* images_leaf, const char* labels_leaf, xt::xtensor<float, 4>& images,
                          xt::xtensor<std::int64_t, 1>& labels) {
        const auto images_path = file(images_leaf);
        const auto labels_path = file(labels_leaf);
        images = read_idx_images(images_path);
        labels = read_idx_labels(labels_path);
        if (images.shape()[0] != labels.shape()[0])
            throw idx_error(labels_path.string(), std::to_string(labels.shape()[0]) + " labels for " +
                                                      std::to_string(images.shape()[0]) + " images in " +
                                                      images_path.string() + "; the counts must agree");
    };
    fashion_mnist out;
    pair("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", out.train_images, out.train_labels);
    pair("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", out.test_images, out.test_labels);
    return out;
}

}  // namespace katachi::io
