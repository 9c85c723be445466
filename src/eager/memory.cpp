// The eager face's storage cache (katachi/eager/memory.hpp).
#include "katachi/eager/memory.hpp"

#include <map>
#include <mutex>
#include <new>

namespace katachi::eager {

namespace {

constexpr std::align_val_t block_alignment{64};

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
        capacity = bytes == 0 ? 1 : bytes;
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

std::size_t cached_bytes() { return cache().held(); }
std::size_t cache_limit() { return cache().limit(); }
void set_cache_limit(std::size_t bytes) { cache().set_limit(bytes); }
void empty_cache() { cache().empty(); }

namespace detail {

void* acquire_block(std::size_t bytes, std::size_t& capacity) { return cache().acquire(bytes, capacity); }
void release_block(void* block, std::size_t capacity) noexcept { cache().release(block, capacity); }

}  // namespace detail

}  // namespace katachi::eager
