// libFuzzer harness: IDX files, plain and gzip'd. The first byte chooses: even, the rest is the
// file as it is (a gzip stream there is whatever the fuzzer made of one); odd, the rest is gzip'd
// by the harness first, so the fuzzer explores the IDX header and data inside a valid stream. The
// reader must return an array that matches its header or throw idx_error.
#include <zlib.h>

#include <katachi/io/idx.hpp>
#include <vector>

#include "fuzz_support.hpp"

namespace {

std::vector<std::uint8_t> gzipped(const std::uint8_t* data, std::size_t size) {
    z_stream z{};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        katachi::fuzz::violated("deflateInit2 failed");
    std::vector<std::uint8_t> out(deflateBound(&z, static_cast<uLong>(size)) + 32);
    z.next_in = const_cast<Bytef*>(data);
    z.avail_in = static_cast<uInt>(size);
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) katachi::fuzz::violated("deflate did not finish");
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0 || size > (1u << 20)) return 0;
    const bool gzip = data[0] & 1;
    std::vector<std::uint8_t> bytes(data + 1, data + size);
    if (gzip) bytes = gzipped(bytes.data(), bytes.size());
    const katachi::fuzz::memory_file file(bytes.data(), bytes.size());
    try {
        const katachi::io::idx_array a = katachi::io::read_idx(file.path());
        std::size_t count = 1;
        for (std::size_t d : a.shape) count *= d;
        if (a.shape.empty() || a.shape.size() > 4) katachi::fuzz::violated("an accepted file has rank outside 1..4");
        if (count != a.values.size()) katachi::fuzz::violated("the values do not fill the shape");
    } catch (const katachi::io::idx_error&) {
    }
    return 0;
}
