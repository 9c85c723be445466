// katachi/eager/memory.hpp: where the eager face's tensor storage comes from.
//
// Every op makes fresh output tensors, so a training step or a forward at a large batch allocates
// and frees the same large blocks again and again. The C library hands blocks of more than about
// 128 KiB back to the system when they are freed, and the next step pays a page fault for every
// 4 KiB of them (a quarter of a LeNet forward at batch 256). So a freed block of at least
// cached_block_min bytes goes to a cache instead, and the next request of a size it can serve
// (the block is at most an eighth larger) takes it back. The cache holds at most cache_limit()
// bytes (1 GiB by default); a block that would go over it is freed at once.
//
//   katachi::eager::cached_bytes();           bytes held for reuse now
//   katachi::eager::empty_cache();            gives them back to the system
//   katachi::eager::set_cache_limit(bytes);   0 turns the cache off (and empties it)
//
// Smaller blocks (up to 96 KiB: small tensors) are kept per thread in lists by size class, a few
// hundred kilobytes a class at most, and reused by the next tensor of their class on that thread;
// empty_cache() frees those of the calling thread, and a limit of 0 turns them off too. They are
// not counted in cached_bytes().
//
// Blocks are 64-byte aligned. The cache is safe to use from several threads.
#pragma once

#include <cstddef>
#include <new>

namespace katachi::eager {

inline constexpr std::size_t cached_block_min = std::size_t{128} << 10;

std::size_t cached_bytes();
std::size_t cache_limit();
void set_cache_limit(std::size_t bytes);
void empty_cache();

namespace detail {

// At least `bytes` bytes, 64-byte aligned; `capacity` receives the block's real size, which
// release_block must be given back.
void* acquire_block(std::size_t bytes, std::size_t& capacity);
void release_block(void* block, std::size_t capacity) noexcept;

// Memory for the eager face's own records (tensor states, storages, autograd nodes and their
// edges) from the same per-thread lists as the small blocks: an allocator for std::allocate_shared
// and containers. Requests above small_record_max go to operator new.
inline constexpr std::size_t small_record_max = 98304;
void* acquire_small(std::size_t bytes);
void release_small(void* block, std::size_t bytes) noexcept;

template <class U>
struct pool_allocator {
    using value_type = U;
    pool_allocator() noexcept = default;
    template <class V>
    pool_allocator(const pool_allocator<V>&) noexcept {}
    static_assert(alignof(U) <= 64, "pool blocks are 64-byte aligned");

    U* allocate(std::size_t n) {
        if (n > small_record_max / sizeof(U)) return static_cast<U*>(::operator new(n * sizeof(U)));
        return static_cast<U*>(acquire_small(n * sizeof(U)));
    }
    void deallocate(U* p, std::size_t n) noexcept {
        if (n > small_record_max / sizeof(U))
            ::operator delete(p);
        else
            release_small(p, n * sizeof(U));
    }
    template <class V>
    friend bool operator==(const pool_allocator&, const pool_allocator<V>&) noexcept {
        return true;
    }
};

// The deleter of a tensor storage: the block goes back through release_block.
template <class T>
struct block_deleter {
    std::size_t capacity = 0;
    void operator()(T* p) const noexcept { release_block(p, capacity); }
};

}  // namespace detail

}  // namespace katachi::eager
