// test/fuzz/fuzz_support.hpp: what the libFuzzer harnesses share.
//
// The harnesses read the fuzzer's bytes as a file would arrive (katachi's loaders take paths): the
// bytes go into an anonymous in-memory file (memfd_create) read through /proc/self/fd/N, so a run
// touches no disk. A broken invariant calls violated(), which prints what and aborts: the fuzzer
// keeps the input that did it.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace katachi::fuzz {

[[noreturn]] inline void violated(const char* what) {
    std::fprintf(stderr, "katachi fuzz: invariant violated: %s\n", what);
    std::abort();
}

// An anonymous file holding the bytes, closed on destruction.
class memory_file {
public:
    memory_file(const std::uint8_t* data, std::size_t size) {
        fd_ = ::memfd_create("katachi-fuzz", MFD_CLOEXEC);
        if (fd_ < 0) violated("memfd_create failed");
        std::size_t done = 0;
        while (done < size) {
            const ::ssize_t n = ::write(fd_, data + done, size - done);
            if (n <= 0) violated("writing the memory file failed");
            done += static_cast<std::size_t>(n);
        }
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    memory_file(const memory_file&) = delete;
    memory_file& operator=(const memory_file&) = delete;
    ~memory_file() { ::close(fd_); }
    const std::string& path() const { return path_; }

private:
    int fd_ = -1;
    std::string path_;
};

}  // namespace katachi::fuzz
