// test/support/allocation_counter.hpp: counts every heap allocation of a test program, on every
// thread and from every library in the process (katachi, the C++ runtime, OpenBLAS, zlib), for the
// tests that promise none (kernels given their buffers, a graph training step after the first).
//
// Include it in exactly one translation unit of a test program. It counts at the bottom, where
// every allocation ends up, rather than replacing operator new (which misses malloc and its
// relatives and, replaced in part, pairs wrongly with the sanitizers' own operator delete):
//
// - In a plain build the program itself defines malloc, calloc, realloc, free, aligned_alloc,
//   posix_memalign, memalign, valloc and pvalloc, which the dynamic linker puts before the C
//   library's for every library in the process (glibc supports replacing its malloc this way, and
//   its own internal allocations then come here too). Each one counts and forwards to glibc's
//   allocator through its __libc_ entry points. operator new and all its forms (nothrow, aligned,
//   sized delete) reach these through the C++ runtime and are counted with them.
// - Under AddressSanitizer, whose runtime owns malloc, the sanitizer's own allocation hook
//   (__sanitizer_install_malloc_and_free_hooks) counts every allocation that its allocator serves,
//   operator new's included.
//
// Compare allocation_count() (and deallocation_count()) before and after the code under test. The counts are process-wide and
// monotonic, so a test that warms up what it needs inside its own case never depends on the order
// in which cases run.
#pragma once

#include <atomic>
#include <cstddef>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KATACHI_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define KATACHI_TEST_ASAN 1
#endif

namespace katachi::test {

namespace detail {
inline std::atomic<std::size_t> allocations{0};
inline std::atomic<std::size_t> deallocations{0};
inline std::atomic<std::size_t> largest_allocation{0};

inline void count_deallocation(const volatile void* p) noexcept {
    if (p != nullptr) deallocations.fetch_add(1, std::memory_order_relaxed);
}

inline void count_allocation(std::size_t size) noexcept {
    allocations.fetch_add(1, std::memory_order_relaxed);
    std::size_t largest = largest_allocation.load(std::memory_order_relaxed);
    while (size > largest && !largest_allocation.compare_exchange_weak(largest, size, std::memory_order_relaxed)) {
    }
}
}  // namespace detail

// Allocations made so far in the process, by any thread and any library.
inline std::size_t allocation_count() {
    return detail::allocations.load(std::memory_order_relaxed);
}

// Blocks freed so far (free of a null pointer aside), by any thread and any library.
inline std::size_t deallocation_count() {
    return detail::deallocations.load(std::memory_order_relaxed);
}

// The largest single request so far, in bytes; reset_largest_allocation() starts a new watch.
inline std::size_t largest_allocation() {
    return detail::largest_allocation.load(std::memory_order_relaxed);
}
inline void reset_largest_allocation() {
    detail::largest_allocation.store(0, std::memory_order_relaxed);
}

// Whether this program counts through the sanitizer's hook (true) or its own malloc (false).
inline constexpr bool counting_through_sanitizer =
#ifdef KATACHI_TEST_ASAN
    true;
#else
    false;
#endif

}  // namespace katachi::test

#ifdef KATACHI_TEST_ASAN

// The sanitizer runtime's allocator interface (declared here: g++ ships no header for it).
extern "C" {
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, std::size_t),
                                              void (*free_hook)(const volatile void*));
std::size_t __sanitizer_get_current_allocated_bytes();
}

namespace katachi::test::detail {
inline void sanitizer_malloc_hook(const volatile void*, std::size_t size) {
    count_allocation(size);
}
inline void sanitizer_free_hook(const volatile void* p) {
    count_deallocation(p);
}
inline const bool hooks_installed =
    __sanitizer_install_malloc_and_free_hooks(sanitizer_malloc_hook, sanitizer_free_hook) != 0;
}  // namespace katachi::test::detail

#else

#include <cerrno>

// glibc's allocator under its own names, which a replacement malloc may call.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void __libc_free(void*);
void* __libc_memalign(std::size_t, std::size_t);
void* __libc_valloc(std::size_t);
void* __libc_pvalloc(std::size_t);
}

extern "C" {

void* malloc(std::size_t size) noexcept {
    katachi::test::detail::count_allocation(size);
    return __libc_malloc(size);
}

void* calloc(std::size_t count, std::size_t size) noexcept {
    katachi::test::detail::count_allocation(count * size);
    return __libc_calloc(count, size);
}

// A realloc counts as an allocation (it may move the block) and, of a block, as a free of it;
// realloc(p, 0) only frees.
void* realloc(void* p, std::size_t size) noexcept {
    if (p == nullptr || size != 0) katachi::test::detail::count_allocation(size);
    katachi::test::detail::count_deallocation(p);
    return __libc_realloc(p, size);
}

void free(void* p) noexcept {
    katachi::test::detail::count_deallocation(p);
    __libc_free(p);
}

void* memalign(std::size_t alignment, std::size_t size) noexcept {
    katachi::test::detail::count_allocation(size);
    return __libc_memalign(alignment, size);
}

void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
    katachi::test::detail::count_allocation(size);
    return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
    if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
    katachi::test::detail::count_allocation(size);
    void* p = __libc_memalign(alignment, size);
    if (p == nullptr) return ENOMEM;
    *out = p;
    return 0;
}

void* valloc(std::size_t size) noexcept {
    katachi::test::detail::count_allocation(size);
    return __libc_valloc(size);
}

void* pvalloc(std::size_t size) noexcept {
    katachi::test::detail::count_allocation(size);
    return __libc_pvalloc(size);
}

}  // extern "C"

#endif
