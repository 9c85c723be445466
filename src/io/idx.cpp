// katachi's IDX reader: the header is checked and the element count worked out (overflow-checked)
// before any data is read; the data must then fill the file (or its gzip stream) exactly. Gzip'd
// files, told apart by the gzip magic 1f 8b, go through zlib's inflate.
#include <katachi/error.hpp>
#include <fcntl.h>
#include <unistd.h>
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
#include <vector>

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

// An open IDX file, plain or gzip'd (told apart by the gzip magic 1f 8b), read as a stream of
// (decompressed) bytes. Gzip goes through zlib's inflate directly rather than gzread, which would
// silently ignore whatever follows a gzip member: here concatenated members are read in turn (that
// is valid gzip) and any other byte after the last member is an error, as is a member cut short.
class idx_input {
public:
    explicit idx_input(const std::filesystem::path& path) : name_(path.string()) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) KATACHI_THROW(idx_error, name_, "no such file");
        if (std::filesystem::is_directory(path, ec)) KATACHI_THROW(idx_error, name_, "is a folder, not an IDX file");
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) KATACHI_THROW(idx_error, name_, std::string("cannot open the file: ") + std::strerror(errno));
        try {
            gzip_ = at_gzip_member();
        } catch (...) {
            ::close(fd_);
            throw;
        }
        if (gzip_ && inflateInit2(&z_, 15 + 16) != Z_OK) {  // 15-bit window, gzip wrapper only
            ::close(fd_);
            KATACHI_THROW(idx_error, name_, "cannot start zlib's inflate: out of memory");
        }
    }
    idx_input(const idx_input&) = delete;
    idx_input& operator=(const idx_input&) = delete;
    ~idx_input() {
        if (gzip_) inflateEnd(&z_);
        ::close(fd_);
    }

    // Reads up to `size` bytes; fewer only at the end of the (decompressed) data.
    std::size_t read(void* dst, std::size_t size) {
        return gzip_ ? inflate_into(static_cast<unsigned char*>(dst), size)
                     : copy_into(static_cast<unsigned char*>(dst), size);
    }

    // Bytes left before the end of the data, read and discarded.
    std::uint64_t count_rest() {
        std::array<unsigned char, 1 << 16> scratch;
        std::uint64_t total = 0;
        for (std::size_t n; (n = read(scratch.data(), scratch.size())) > 0;) total += n;
        return total;
    }

    bool compressed() const { return gzip_; }
    const std::string& name() const { return name_; }

private:
    std::size_t buffered() const { return end_ - begin_; }

    // Makes at least `n` raw bytes available unless the file ends first; returns how many are.
    std::size_t fill(std::size_t n) {
        if (buffered() >= n || eof_) return buffered();
        std::memmove(buffer_.data(), buffer_.data() + begin_, buffered());
        end_ = buffered();
        begin_ = 0;
        while (end_ < n && !eof_) {
            const ::ssize_t got = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) KATACHI_THROW(idx_error, name_, std::string("reading failed: ") + std::strerror(errno));
            if (got == 0) eof_ = true;
            end_ += static_cast<std::size_t>(got);
        }
        return buffered();
    }

    // Whether the raw bytes at the read position start a gzip member (1f 8b, method 8: deflate).
    bool at_gzip_member() {
        return fill(3) >= 3 && buffer_[begin_] == 0x1f && buffer_[begin_ + 1] == 0x8b &&
               buffer_[begin_ + 2] == 0x08;
    }

    std::size_t copy_into(unsigned char* dst, std::size_t size) {
        std::size_t got = 0;
        while (got < size && fill(1) > 0) {
            const std::size_t n = std::min(size - got, buffered());
            std::memcpy(dst + got, buffer_.data() + begin_, n);
            begin_ += n;
            got += n;
        }
        return got;
    }

    std::size_t inflate_into(unsigned char* dst, std::size_t size) {
        std::size_t got = 0;
        while (got < size && !finished_) {
            if (fill(1) == 0)
                KATACHI_THROW(idx_error, name_, "the gzip stream is truncated: the file ends inside a gzip member");
            z_.next_in = buffer_.data() + begin_;
            z_.avail_in = static_cast<uInt>(buffered());
            z_.next_out = dst + got;
            z_.avail_out = static_cast<uInt>(std::min<std::size_t>(size - got, UINT_MAX));
            const uInt out_before = z_.avail_out;
            const int ret = inflate(&z_, Z_NO_FLUSH);
            begin_ = static_cast<std::size_t>(z_.next_in - buffer_.data());
            got += out_before - z_.avail_out;
            if (ret == Z_STREAM_END) {
                end_of_member();
            } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
                KATACHI_THROW(idx_error, name_, "the gzip stream is corrupt (" +
                                           std::string(z_.msg ? z_.msg : "zlib error " + std::to_string(ret)) +
                                           ")");
            }
        }
        return got;
    }

    // After a member's end: the file ends, another member follows, or the rest is refused.
    void end_of_member() {
        if (fill(1) == 0) {
            finished_ = true;
        } else if (at_gzip_member()) {
            if (inflateReset(&z_) != Z_OK) KATACHI_THROW(idx_error, name_, "cannot restart zlib's inflate");
        } else {
            std::uint64_t trailing = buffered();
            begin_ = end_;
            while (fill(1) > 0) {
                trailing += buffered();
                begin_ = end_;
            }
            KATACHI_THROW(idx_error, name_, "trailing garbage: " + std::to_string(trailing) +
                                       " bytes after the end of the gzip stream are not another gzip member");
        }
    }

    std::string name_;
    int fd_ = -1;
    bool gzip_ = false;
    bool finished_ = false;  // gzip: the last member ended with the file
    bool eof_ = false;       // the raw file is read to its end
    std::vector<unsigned char> buffer_ = std::vector<unsigned char>(1 << 17);
    std::size_t begin_ = 0, end_ = 0;  // the raw bytes read but not yet used: [begin_, end_)
    z_stream z_{};
};

// A file's header and its raw big-endian data, checked against each other.
struct raw_idx {
    std::uint8_t type_code = 0;
    std::vector<std::size_t> shape;
    std::vector<unsigned char> data;
};

raw_idx read_raw(const std::filesystem::path& path) {
    idx_input in(path);
    const std::string& name = in.name();
    std::array<unsigned char, 4> magic{};
    const std::size_t got_magic = in.read(magic.data(), 4);
    if (got_magic < 4)
        KATACHI_THROW(idx_error, 
            name, "the file holds " + std::to_string(got_magic) + " bytes, too few for the 4-byte IDX magic");
    if (magic[0] != 0 || magic[1] != 0)
        KATACHI_THROW(idx_error, name, "bad magic: an IDX file starts with two zero bytes, this one with " +
                                  hex_byte(magic[0]) + " " + hex_byte(magic[1]));
    raw_idx out;
    out.type_code = magic[2];
    const std::size_t elem = element_size(out.type_code);
    if (elem == 0)
        KATACHI_THROW(idx_error, 
            name, "unknown type code " + hex_byte(magic[2]) + " (known: 0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e)");
    const unsigned rank = magic[3];
    if (rank < 1 || rank > 4) KATACHI_THROW(idx_error, name, "rank " + std::to_string(rank) + " is outside 1..4");

    std::array<unsigned char, 16> dims{};
    const std::size_t header = 4 + 4 * std::size_t{rank};
    const std::size_t got_dims = in.read(dims.data(), 4 * rank);
    if (got_dims < 4 * rank)
        KATACHI_THROW(idx_error, name, "truncated header: expected " + std::to_string(header) + " bytes for rank " +
                                  std::to_string(rank) + ", found " + std::to_string(4 + got_dims));
    std::uint64_t expected = elem;
    for (unsigned i = 0; i < rank; ++i) {
        const std::uint32_t d = (std::uint32_t{dims[4 * i]} << 24) | (std::uint32_t{dims[4 * i + 1]} << 16) |
                                (std::uint32_t{dims[4 * i + 2]} << 8) | std::uint32_t{dims[4 * i + 3]};
        out.shape.push_back(d);
        if (__builtin_mul_overflow(expected, std::uint64_t{d}, &expected))
            KATACHI_THROW(idx_error, name, "the dimensions' byte count overflows 64 bits");
    }
    const std::string stored = in.compressed() ? " (after gzip decompression)" : "";

    // The buffer grows with the data actually read, at most doubling it (from 64 KiB), so a header
    // claiming far more data than the file holds allocates little more than the file's size.
    std::uint64_t got = 0;
    while (got < expected) {
        const std::uint64_t want = std::min(expected, std::max<std::uint64_t>(std::uint64_t{1} << 16, 2 * got));
        out.data.resize(static_cast<std::size_t>(want));
        const std::size_t chunk = static_cast<std::size_t>(want - got);
        const std::size_t n = in.read(out.data.data() + got, chunk);
        got += n;
        if (n < chunk) break;
    }
    if (got < expected)
        KATACHI_THROW(idx_error, name, "truncated data: expected " + std::to_string(expected) +
                                  " data bytes after the " + std::to_string(header) + "-byte header, found " +
                                  std::to_string(got) + stored);
    const std::uint64_t extra = in.count_rest();
    if (extra > 0)
        KATACHI_THROW(idx_error, name, "trailing data: expected " + std::to_string(expected) +
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
        KATACHI_THROW(idx_error, path.string(), std::string("expected ") + what + " (type code 0x08, rank " +
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
        KATACHI_THROW(idx_error, dir.string(), "the Fashion-MNIST folder does not exist; " +
                                          std::string(install_hint) +
                                          ", or pass the folder that holds the four files");
    const auto file = [&](const char* leaf) {
        const std::filesystem::path p = dir / leaf;
        if (!std::filesystem::exists(p, ec))
            KATACHI_THROW(idx_error, p.string(), "missing Fashion-MNIST file; " + std::string(install_hint));
        return p;
    };
    const auto pair = [&](const char* images_leaf, const char* labels_leaf, xt::xtensor<float, 4>& images,
                          xt::xtensor<std::int64_t, 1>& labels) {
        const auto images_path = file(images_leaf);
        const auto labels_path = file(labels_leaf);
        images = read_idx_images(images_path);
        if (images.shape()[2] != 28 || images.shape()[3] != 28)
            KATACHI_THROW(idx_error, images_path.string(), "the images are " + std::to_string(images.shape()[2]) + "x" +
                                                      std::to_string(images.shape()[3]) +
                                                      "; Fashion-MNIST images are 28x28");
        labels = read_idx_labels(labels_path);
        const auto bad = std::find_if(labels.begin(), labels.end(), [](std::int64_t l) { return l < 0 || l > 9; });
        if (bad != labels.end())
            KATACHI_THROW(idx_error, labels_path.string(),
                            "the label at index " + std::to_string(bad - labels.begin()) + " is " +
                                std::to_string(*bad) + "; Fashion-MNIST's classes are 0..9");
        if (images.shape()[0] != labels.shape()[0])
            KATACHI_THROW(idx_error, labels_path.string(), std::to_string(labels.shape()[0]) + " labels for " +
                                                      std::to_string(images.shape()[0]) + " images in " +
                                                      images_path.string() + "; the counts must agree");
    };
    fashion_mnist out;
    pair("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", out.train_images, out.train_labels);
    pair("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", out.test_images, out.test_labels);
    return out;
}

}  // namespace katachi::io
