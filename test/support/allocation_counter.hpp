// test/support/allocation_counter.hpp: counts every global allocation of a test program, for the
// tests that promise none (kernels given their buffers, a graph training step after the first).
//
// It replaces the global operator new and delete, so include it in exactly one translation unit
// of a test program. Compare allocation_count() before and after the code under test.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace katachi::test {
inline std::atomic<std::size_t> allocation_counter{0};
inline std::size_t allocation_count() {
    return allocation_counter.load();
}
}  // namespace katachi::test

// The replacements pair malloc with free; g++ cannot see that they belong together.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Not inlined, so that the compiler sees operator delete, not free, paired with operator new.
[[gnu::noinline]] void* operator new(std::size_t n) {
    ++katachi::test::allocation_counter;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n) {
    return ::operator new(n);
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
