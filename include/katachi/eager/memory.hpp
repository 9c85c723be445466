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

// The deleter of a tensor storage: the block goes back through release_block.
template <class T>
struct block_deleter {
    std::size_t capacity = 0;
    void operator()(T* p) const noexcept { release_block(p, capacity); }
};

}  // namespace detail

}  // namespace katachi::eager
