// libFuzzer harness: safetensors bytes, parsed from memory and read from a file. Both readers must
// either return a file that obeys every rule or throw safetensors_error; anything else (another
// exception, a crash, a sanitizer report) is a finding. They must agree on what they accept.
#include <katachi/io/safetensors.hpp>

#include "fuzz_support.hpp"

namespace io = katachi::io;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    bool parsed = false;
    io::safetensors_file from_memory;
    try {
        from_memory = io::parse_safetensors(bytes, "fuzz");
        parsed = true;
    } catch (const io::safetensors_error&) {
    }
    const katachi::fuzz::memory_file file(data, size);
    bool loaded = false;
    io::safetensors_file from_disk;
    try {
        from_disk = io::load_safetensors(file.path());
        loaded = true;
    } catch (const io::safetensors_error&) {
    }
    if (parsed != loaded) katachi::fuzz::violated("parse_safetensors and load_safetensors disagree");
    if (!parsed) return 0;
    if (from_memory.metadata != from_disk.metadata || from_memory.tensors.size() != from_disk.tensors.size())
        katachi::fuzz::violated("the two readers return different files");
    for (const auto& [key, t] : from_memory.tensors) {
        const io::tensor& other = from_disk.tensors.at(key);
        if (t.type != other.type || t.shape != other.shape || t.bytes != other.bytes)
            katachi::fuzz::violated("the two readers return different tensors");
        if (t.bytes.size() != t.element_count() * io::dtype_size(t.type))
            katachi::fuzz::violated("a tensor's bytes do not match its shape");
        try {  // every accepted tensor converts to the types its dtype allows
            if (t.type == io::dtype::i64)
                (void)t.as<std::int64_t>();
            else if (t.type == io::dtype::f64)
                (void)t.as<double>();
            else
                (void)t.as<float>();
        } catch (const io::safetensors_error&) {
            katachi::fuzz::violated("an accepted tensor does not convert to its own type");
        }
    }
    return 0;
}
