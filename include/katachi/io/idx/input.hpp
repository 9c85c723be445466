// katachi/io/idx/input.hpp: idx_error, and an IDX file opened as a stream of bytes, plain or gzip'd
// (part of katachi/io/idx.hpp, which includes it). Gzip'd input goes through zlib's inflate: a
// program that reads IDX files links zlib (-lz).
#pragma once

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <katachi/error.hpp>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace katachi::io {

class idx_error : public std::runtime_error {
public:
    idx_error(const std::string& file, const std::string& what);
    const std::string& file() const noexcept { return file_; }

private:
    std::string file_;
};

inline idx_error::idx_error(const std::string& file, const std::string& what)
    : std::runtime_error(file + ": " + what), file_(file) {}

namespace detail {

// An open IDX file, plain or gzip'd (told apart by the gzip magic 1f 8b), read as a stream of
// (decompressed) bytes. Gzip goes through zlib's inflate directly rather than gzread, which would
// silently ignore whatever follows a gzip member: here concatenated members are read in turn (that
// is valid gzip) and any other byte after the last member is an error, as is a member cut short.
class idx_input {
public:
    explicit idx_input(const std::filesystem::path& path) : name_(path.string()) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) KATACHI_THROW(idx_error, name_, "no such file");
        if (std::filesystem::is_directory(path, ec))
            KATACHI_THROW(idx_error, name_, "is a folder, not an IDX file");
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0)
            KATACHI_THROW(idx_error, name_, std::string("cannot open the file: ") + std::strerror(errno));
#if defined(__cpp_exceptions)
        try {
            gzip_ = at_gzip_member();
        } catch (...) {
            ::close(fd_);
            throw;
        }
#else
        gzip_ = at_gzip_member();  // a failure goes to the error handler, which does not return
#endif
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

    bool compressed() const {
        return gzip_;
    }
    const std::string& name() const {
        return name_;
    }

private:
    std::size_t buffered() const {
        return end_ - begin_;
    }

    // Makes at least `n` raw bytes available unless the file ends first; returns how many are.
    std::size_t fill(std::size_t n) {
        if (buffered() >= n || eof_) return buffered();
        std::memmove(buffer_.data(), buffer_.data() + begin_, buffered());
        end_ = buffered();
        begin_ = 0;
        while (end_ < n && !eof_) {
            const ::ssize_t got = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0)
                KATACHI_THROW(idx_error, name_, std::string("reading failed: ") + std::strerror(errno));
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
                KATACHI_THROW(idx_error, name_,
                              "the gzip stream is truncated: the file ends inside a gzip member");
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
                KATACHI_THROW(idx_error, name_,
                              "the gzip stream is corrupt (" +
                                  std::string(z_.msg ? z_.msg : "zlib error " + std::to_string(ret)) + ")");
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
            KATACHI_THROW(idx_error, name_,
                          "trailing garbage: " + std::to_string(trailing) +
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

}  // namespace detail

}  // namespace katachi::io
