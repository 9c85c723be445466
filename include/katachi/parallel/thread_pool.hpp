// katachi/parallel/thread_pool.hpp: the thread pool itself (katachi/parallel.hpp says how kernels
// use it): its configuration (KATACHI_THREADS), the marks of a running part, deterministic mode's
// flag and part counts, and the pool, threaded or, in a single-threaded build, run on the caller.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <katachi/error.hpp>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if !defined(KATACHI_BLAS_NONE)
extern "C" void openblas_set_num_threads(int);
#endif

// 1 where katachi runs a thread pool; 0 in a single-threaded build, where every part runs on its
// caller and nothing here allocates. 0 by itself when the C++ library has no threads (libstdc++
// built without gthreads, as Debian's arm-none-eabi one for bare-metal Cortex-M); define it 0 to
// choose it anywhere. With 0, the pool below is replaced by one that runs every job as the pool
// runs it on one thread, get_num_threads() is 1, set_num_threads accepts only 1, and the
// per-thread state is plain static (KATACHI_THREAD_LOCAL): a bare-metal image has no thread
// pointer for thread_local, and no std::thread, std::mutex or atomic wait.
#if !defined(KATACHI_THREADS)
#if defined(__GLIBCXX__) && !defined(_GLIBCXX_HAS_GTHREADS)
#define KATACHI_THREADS 0
#else
#define KATACHI_THREADS 1
#endif
#endif
#if KATACHI_THREADS
#define KATACHI_THREAD_LOCAL thread_local
#else
#define KATACHI_THREAD_LOCAL static
#endif

namespace katachi {

namespace detail {

inline constexpr unsigned max_threads = 64;

// OpenBLAS runs each product on the thread that calls it; katachi's parts are the parallelism.
// Without OpenBLAS (KATACHI_BLAS_NONE, kernels/gemm.hpp) there is nothing to set.
inline void single_threaded_blas() {
#if !defined(KATACHI_BLAS_NONE)
    openblas_set_num_threads(1);
#endif
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// A callable seen through a pointer and a trampoline: no allocation, no std::function.
class part_ref {
public:
    part_ref() = default;
    template <class F>
    explicit part_ref(F& f)
        : object_(&f), call_([](void* o, unsigned part) { (*static_cast<F*>(o))(part); }) {}
    void operator()(unsigned part) const { call_(object_, part); }

private:
    void* object_ = nullptr;
    void (*call_)(void*, unsigned) = nullptr;
};

inline bool& inside_parallel_part() {
    KATACHI_THREAD_LOCAL bool inside = false;
    return inside;
}

// Marks the calling thread as running a part for the scope's life.
class inside_scope {
public:
    inside_scope() noexcept : previous_(std::exchange(inside_parallel_part(), true)) {}
    ~inside_scope() { inside_parallel_part() = previous_; }
    inside_scope(const inside_scope&) = delete;
    inside_scope& operator=(const inside_scope&) = delete;

private:
    bool previous_;
};

inline std::atomic<bool>& deterministic_flag() {
    static std::atomic<bool> on{false};
    return on;
}

// Flushing denormals (katachi::set_flush_denormal): the mode every thread of katachi's takes, the
// caller's at once and each worker's when it starts.
inline std::atomic<bool>& flush_denormal_flag() {
    static std::atomic<bool> on{false};
    return on;
}

// Whether this CPU's floating-point control lets denormals be flushed (x86's MXCSR: SSE).
inline constexpr bool can_flush_denormal =
#if defined(__SSE__) || defined(__x86_64__)
    true;
#else
    false;
#endif

// Sets this thread's MXCSR bits FTZ (15: denormal results become zero) and DAZ (6: denormal inputs
// are read as zero), or clears them.
inline void apply_flush_denormal(bool on) noexcept {
#if defined(__SSE__) || defined(__x86_64__)
    constexpr unsigned ftz_daz = (1u << 15) | (1u << 6);
    const unsigned csr = __builtin_ia32_stmxcsr();
    __builtin_ia32_ldmxcsr(on ? (csr | ftz_daz) : (csr & ~ftz_daz));
#else
    (void)on;
#endif
}

// In deterministic mode a job is cut into this many parts (fewer when it has fewer items) whatever
// the thread count: the parts' boundaries, and so every partial sum and product block, are those
// of one thread or of 64. A matrix product is cut into at most deterministic_product_parts (its
// blocks must be fixed too: OpenBLAS's value for an element can depend on the block it is computed
// in), since each block packs the shared operand again: eight blocks made an MLP training step a
// quarter slower on one thread, two cost 4%.
inline constexpr unsigned deterministic_parts = 8;
inline constexpr unsigned deterministic_product_parts = 2;

#if !KATACHI_THREADS
// The pool of a single-threaded build: run() is the threaded pool's path for one thread.
class thread_pool {
public:
    static thread_pool& instance() {
        static thread_pool pool;
        return pool;
    }
    unsigned threads() const { return 1; }
    void resize(unsigned) {}
    bool remember_reservation(void (*)(std::size_t), std::size_t) {
        return true;
    }  // one thread: grown already

    template <class F>
    void run(unsigned parts, F&& part) {
        if (parts == 0) return;
        if (parts == 1) {
            part(0u);
            return;
        }
        const inside_scope inside;
        for (unsigned i = 0; i < parts; ++i) part(i);
    }
};
#else
class thread_pool {
public:
    static thread_pool& instance() {
        static thread_pool pool;
        return pool;
    }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;
    ~thread_pool() { stop_workers(); }

    unsigned threads() const { return threads_.load(std::memory_order_relaxed); }

    void resize(unsigned n) {
        const std::lock_guard lock(run_mutex_);
        stop_workers();
        threads_.store(n, std::memory_order_relaxed);
        single_threaded_blas();
        start_workers();
    }

    // Runs part(i) for every i in [0, parts), part 0 on the caller; returns when every part is
    // done. With more parts than threads, thread t runs parts t, t + threads, ... one after another.
    // Inside a part, parallel_parts() is 1 (nested work runs on its caller), also when the parts run
    // one after another on the caller, so how work nests never depends on the thread count.
    // The first exception thrown by a part is rethrown here after all parts have finished.
    template <class F>
    void run(unsigned parts, F&& part) {
        if (parts == 0) return;
        const unsigned lanes = std::min(parts, threads());
        std::unique_lock lock(run_mutex_, std::try_to_lock);
        if (lanes <= 1 || inside_parallel_part() || !lock.owns_lock()) {
            if (parts == 1) {
                part(0u);
                return;
            }
            const inside_scope inside;
            for (unsigned i = 0; i < parts; ++i) part(i);
            return;
        }
        // The threaded path is one function for every part type: only the serial paths above are
        // compiled for each F (the parts run through part_ref, one indirect call per part).
        auto each = [&](unsigned i) { part(i); };
        run_threaded(parts, lanes, part_ref(each));
    }

private:
    // run's threaded path, with run_mutex_ held: part 0 on the caller, the others on the workers.
    void run_threaded(unsigned parts, unsigned lanes, part_ref part) {
        start_workers();
#if defined(__cpp_exceptions)
        std::exception_ptr failure;
        std::mutex failure_mutex;
        auto guarded = [&](unsigned i) {
            try {
                part(i);
            } catch (...) {
                const std::lock_guard g(failure_mutex);
                if (!failure) failure = std::current_exception();
            }
        };
#else
        auto guarded = [&](unsigned i) { part(i); };  // a failure goes to the error handler
#endif
        auto lane = [&](unsigned t) {
            for (unsigned i = t; i < parts; i += lanes) guarded(i);
        };
        job_ = part_ref(lane);
        parts_ = lanes;
        pending_.store(static_cast<unsigned>(workers_.size()), std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        {
            const inside_scope inside;
            lane(0);
        }
        wait_until([&] { return pending_.load(std::memory_order_acquire) == 0; },
                   [&] {
                       const unsigned left = pending_.load(std::memory_order_acquire);
                       if (left != 0) pending_.wait(left, std::memory_order_acquire);
                   });
#if defined(__cpp_exceptions)
        if (failure) std::rethrow_exception(failure);
#endif
    }

    thread_pool() {
        unsigned n = std::max(1u, std::thread::hardware_concurrency());
        if (const char* env = std::getenv("KATACHI_NUM_THREADS")) {
            const int v = std::atoi(env);
            if (v >= 1) n = static_cast<unsigned>(v);
        }
        threads_.store(std::min(n, max_threads), std::memory_order_relaxed);
        single_threaded_blas();
        start_workers();
    }

    // Spins for up to about 500 microseconds (a worker stays hot between the parts of one training
    // step and between inferences at batch 1), then blocks in the kernel so an idle pool costs
    // nothing.
    template <class Ready, class Block>
    static void wait_until(Ready ready, Block block) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(500);
        for (unsigned spin = 0;; ++spin) {
            if (ready()) return;
            cpu_relax();
            if (spin % 64 != 63) continue;
            if (std::chrono::steady_clock::now() > deadline) break;
            std::this_thread::yield();
        }
        while (!ready()) block();
    }

    void start_workers() {
        const unsigned wanted = threads() - 1;
        if (workers_.size() == wanted) return;
        stop_workers();
        stopping_.store(false, std::memory_order_relaxed);
        const std::uint32_t now = generation_.load(std::memory_order_relaxed);
        workers_.reserve(wanted);
        started_.store(0, std::memory_order_relaxed);
        for (unsigned i = 1; i <= wanted; ++i) workers_.emplace_back([this, i, now] { work(i, now); });
        // Every worker is running before this returns: a thread's own start-up (the C library's
        // and a sanitizer's bookkeeping, the scratch reservations it grows) happens here, not
        // inside the first parallel job, which a busy machine may schedule after a warm-up step.
        wait_until([&] { return started_.load(std::memory_order_acquire) == wanted; },
                   [&] {
                       const unsigned now_started = started_.load(std::memory_order_acquire);
                       if (now_started != wanted) started_.wait(now_started, std::memory_order_acquire);
                   });
    }

    void stop_workers() {
        if (workers_.empty()) return;
        stopping_.store(true, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        for (auto& w : workers_) w.join();
        workers_.clear();
    }

    void work(unsigned index, std::uint32_t seen) {
        inside_parallel_part() = true;
        apply_flush_denormal(flush_denormal_flag().load(std::memory_order_relaxed));
        {
            // A worker started by a resize grows the scratch reserved before it, as the old ones had.
            const std::lock_guard lock(reservations_mutex_);
            for (unsigned i = 0; i < reservation_count_; ++i) reservations_[i].grow(reservations_[i].size);
        }
        started_.fetch_add(1, std::memory_order_acq_rel);
        started_.notify_all();
        for (;;) {
            wait_until([&] { return generation_.load(std::memory_order_acquire) != seen; },
                       [&] { generation_.wait(seen, std::memory_order_acquire); });
            seen = generation_.load(std::memory_order_acquire);
            if (stopping_.load(std::memory_order_relaxed)) return;
            if (index < parts_) job_(index);
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
        }
    }

public:
    // Records that every thread's scratch of one kind (grow(n) makes it at least n) is to hold at
    // least n elements, for workers started later; returns false if the table is full.
    bool remember_reservation(void (*grow)(std::size_t), std::size_t n) {
        const std::lock_guard lock(reservations_mutex_);
        for (unsigned i = 0; i < reservation_count_; ++i)
            if (reservations_[i].grow == grow) {
                reservations_[i].size = std::max(reservations_[i].size, n);
                return true;
            }
        if (reservation_count_ == reservations_.size()) return false;
        reservations_[reservation_count_++] = {grow, n};
        return true;
    }

private:
    struct reservation {
        void (*grow)(std::size_t) = nullptr;
        std::size_t size = 0;
    };
    std::mutex reservations_mutex_;
    std::array<reservation, 16> reservations_{};
    unsigned reservation_count_ = 0;

    std::atomic<unsigned> threads_{1};
    std::atomic<unsigned> started_{0};  // workers that have started since start_workers began
    std::mutex run_mutex_;
    std::vector<std::thread> workers_;
    std::atomic<std::uint32_t> generation_{0};
    std::atomic<unsigned> pending_{0};
    std::atomic<bool> stopping_{false};
    part_ref job_;
    unsigned parts_ = 0;
};
#endif  // KATACHI_THREADS

}  // namespace detail
}  // namespace katachi
