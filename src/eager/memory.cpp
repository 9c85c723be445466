// The eager face's storage cache (katachi/eager/memory.hpp).
#include "katachi/eager/memory.hpp"

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <new>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KATACHI_EAGER_NO_SMALL_POOL 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define KATACHI_EAGER_NO_SMALL_POOL 1
#endif

namespace katachi::eager {

namespace {

constexpr std::align_val_t block_alignment{64};

// Under AddressSanitizer every small block goes back to the system at once, so a use after free
// is reported instead of landing in a recycled block.
#ifdef KATACHI_EAGER_NO_SMALL_POOL
constexpr bool small_pool_enabled = false;
#else
constexpr bool small_pool_enabled = true;
#endif

// Blocks below cached_block_min: the small tensors and the autograd records of every op. glibc's
// per-thread cache keeps only seven blocks of a size and its aligned allocation bypasses that cache,
// so a step of a small model spent a third of its time in malloc and free. Each thread keeps its
// own lists of freed small blocks by size class instead, and takes from them without a lock. A
// block freed on another thread than the one that took it joins that thread's lists (every block
// comes from the same operator new). Each class holds at most small_class_bytes (and at most
// small_class_count blocks); the rest go back to the system at once, as all of them do when the
// thread ends, when empty_cache() runs on it, or while the cache limit is 0.
//
// Classes: 64-byte steps up to 1 KiB, then four steps per doubling up to small_max (the larger
// requests below cached_block_min are passed to the system as before).
constexpr std::size_t small_step_classes = 16;                         // 64, 128, ..., 1024
constexpr std::size_t small_classes = small_step_classes + 4 * 6 + 2;  // 1280, 1536, ..., 98304
constexpr std::size_t small_max = 98304;
static_assert(small_max == detail::small_record_max);
constexpr std::size_t small_class_bytes = std::size_t{512} << 10;
constexpr std::size_t small_class_count = 256;
static_assert(cached_block_min == std::size_t{128} << 10, "the classes end at cached_block_min");

// The class of a request of 0 .. small_max bytes.
inline std::size_t small_class(std::size_t bytes) noexcept {
    if (bytes <= 1024) return bytes == 0 ? 0 : (bytes - 1) / 64;
    // 1024 < bytes <= small_max: with 2^k < bytes <= 2^(k+1), the quarter steps of 2^k.
    const std::size_t k = 63 - static_cast<std::size_t>(__builtin_clzll(bytes - 1));  // 2^k <= bytes - 1
    const std::size_t quarter = std::size_t{1} << (k - 2);
    return small_step_classes + 4 * (k - 10) + (bytes - 1 - (std::size_t{1} << k)) / quarter;
}

inline std::size_t small_class_size(std::size_t c) noexcept {
    if (c < small_step_classes) return 64 * (c + 1);
    const std::size_t k = 10 + (c - small_step_classes) / 4, j = (c - small_step_classes) % 4;
    return (std::size_t{1} << k) + (j + 1) * (std::size_t{1} << (k - 2));
}

std::atomic<bool> small_pool_on{true};  // false while the cache limit is 0

struct free_block {
    free_block* next;
};

struct small_lists {
    std::array<free_block*, small_classes> head{};
    std::array<std::size_t, small_classes> count{};

    void trim() noexcept {
        for (std::size_t c = 0; c < small_classes; ++c) {
            while (free_block* b = head[c]) {
                head[c] = b->next;
                ::operator delete(static_cast<void*>(b), block_alignment);
            }
            count[c] = 0;
        }
    }
};

// The lists are plain thread-local data (no guard on each access); the first block a thread
// keeps registers the owner whose destructor returns them when the thread ends.
thread_local small_lists small_pool;
thread_local bool small_pool_gone = false;  // the thread is ending: free blocks at once

struct small_pool_owner {
    ~small_pool_owner() {
        small_pool_gone = true;
        small_pool.trim();
    }
};
thread_local bool small_pool_registered = false;

void register_small_pool() {
    thread_local small_pool_owner owner;
    small_pool_registered = true;
}

void* small_acquire(std::size_t bytes, std::size_t& capacity) {
    const std::size_t c = small_class(bytes);
    capacity = small_class_size(c);
    if (free_block* b = small_pool.head[c]; small_pool_enabled && b) {
        small_pool.head[c] = b->next;
        --small_pool.count[c];
        return b;
    }
    return ::operator new(capacity, block_alignment);
}

void small_release(void* block, std::size_t capacity) noexcept {
    const std::size_t c = small_class(capacity);
    if (small_pool_enabled && !small_pool_gone && small_pool.count[c] < small_class_count &&
        (small_pool.count[c] + 1) * capacity <= small_class_bytes &&
        small_pool_on.load(std::memory_order_relaxed)) {
        if (!small_pool_registered) register_small_pool();
        auto* b = static_cast<free_block*>(block);
        b->next = small_pool.head[c];
        small_pool.head[c] = b;
        ++small_pool.count[c];
        return;
    }
    ::operator delete(block, block_alignment);
}

class block_cache {
public:
    void* acquire(std::size_t bytes, std::size_t& capacity) {
        if (bytes >= cached_block_min) {
            const std::lock_guard lock(mutex_);
            // The smallest cached block that fits and wastes at most an eighth of itself.
            const auto it = blocks_.lower_bound(bytes);
            if (it != blocks_.end() && it->first - bytes <= it->first / 8) {
                capacity = it->first;
                void* block = it->second;
                held_ -= it->first;
                blocks_.erase(it);
                return block;
            }
        }
        capacity = bytes;
        return ::operator new(capacity, block_alignment);
    }

    void release(void* block, std::size_t capacity) noexcept {
        if (block == nullptr) return;
        if (capacity >= cached_block_min) {
            const std::lock_guard lock(mutex_);
            if (held_ + capacity <= limit_) {
                try {
                    blocks_.emplace(capacity, block);
                    held_ += capacity;
                    return;
                } catch (...) {  // no memory for the map's node: free the block instead
                }
            }
        }
        ::operator delete(block, block_alignment);
    }

    std::size_t held() {
        const std::lock_guard lock(mutex_);
        return held_;
    }
    std::size_t limit() {
        const std::lock_guard lock(mutex_);
        return limit_;
    }
    void set_limit(std::size_t bytes) {
        const std::lock_guard lock(mutex_);
        limit_ = bytes;
        trim(limit_);
    }
    void empty() {
        const std::lock_guard lock(mutex_);
        trim(0);
    }

private:
    // Frees the largest blocks until at most `target` bytes are held. The mutex is held.
    void trim(std::size_t target) {
        while (held_ > target && !blocks_.empty()) {
            const auto last = std::prev(blocks_.end());
            held_ -= last->first;
            ::operator delete(last->second, block_alignment);
            blocks_.erase(last);
        }
    }

    std::mutex mutex_;
    std::multimap<std::size_t, void*> blocks_;  // capacity -> block
    std::size_t held_ = 0;
    std::size_t limit_ = std::size_t{1} << 30;
};

// Never destroyed: a tensor that outlives every other static (a global in a user's program) can
// still give its block back at exit.
block_cache& cache() {
    static block_cache* const instance = new block_cache;
    return *instance;
}

}  // namespace

std::size_t cached_bytes() {
    return cache().held();
}
std::size_t cache_limit() {
    return cache().limit();
}
void set_cache_limit(std::size_t bytes) {
    small_pool_on.store(bytes != 0, std::memory_order_relaxed);
    if (bytes == 0) small_pool.trim();
    cache().set_limit(bytes);
}
void empty_cache() {
    small_pool.trim();
    cache().empty();
}

namespace detail {

void* acquire_block(std::size_t bytes, std::size_t& capacity) {
    if (bytes <= small_max) return small_acquire(bytes, capacity);
    return cache().acquire(bytes, capacity);
}
void* acquire_small(std::size_t bytes) {
    std::size_t capacity = 0;
    return small_acquire(bytes, capacity);
}
void release_small(void* block, std::size_t bytes) noexcept {
    small_release(block, small_class_size(small_class(bytes)));
}

void release_block(void* block, std::size_t capacity) noexcept {
    if (block == nullptr) return;
    if (capacity <= small_max) return small_release(block, capacity);
    cache().release(block, capacity);
}

}  // namespace detail

}  // namespace katachi::eager
