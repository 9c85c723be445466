// katachi/parallel.hpp: katachi's one thread pool.
//
//   katachi::set_num_threads(2);   // like torch::set_num_threads; 1 = everything on the caller
//   katachi::get_num_threads();
//
// Two pools on two cores fight: OpenBLAS keeps its own threads spinning after each product, and a
// second pool's threads then wait for a core. So katachi owns the only pool and runs OpenBLAS on
// one thread inside it. A kernel splits its work (the samples of a convolution, the rows or columns
// of a large matrix product) into at most get_num_threads() contiguous parts; the calling thread
// takes part 0 and the pool's workers the rest. Work started from inside a part, or from a second
// application thread while the pool is busy, runs on its caller, so nesting never deadlocks.
//
// The default is the number of hardware threads, or KATACHI_NUM_THREADS when that is set. With one
// thread no worker is started and nothing is allocated: the fixed-memory configuration for small
// devices. The pool allocates only when it is created (its first use) or resized: the workers start
// then, not inside a kernel. Workers keep their own scratch (thread_scratch) for their parts of a
// convolution; a model reserves it for its layers and batch size before it runs
// (reserve_thread_scratch, called by graph::model::reserve and inference_model's constructor), so
// neither a forward nor a training step allocates on any thread.
#pragma once

#include <katachi/error.hpp>
#include <algorithm>
#include <cstddef>
#include <katachi/parallel/thread_pool.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace katachi {

namespace detail {

// Splits [0, n) into `parts` contiguous ranges of nearly equal length; range i is [begin, end).
struct split_range {
    std::size_t begin, end;
};
inline split_range part_of(std::size_t n, unsigned parts, unsigned i) {
    return {n * i / parts, n * (i + 1) / parts};
}

// How many parts a job of n independent items should run in: one per thread, at most n; in
// deterministic mode deterministic_parts, at most n, however many threads run them.
inline unsigned parallel_parts(std::size_t n) {
#if !KATACHI_THREADS
    // One thread: one part, in deterministic mode too (one thread's results are its own).
    return n == 0 ? 0u : 1u;
#endif
    if (inside_parallel_part()) return 1;
    const unsigned cap =
        deterministic_flag().load(std::memory_order_relaxed) ? deterministic_parts : thread_pool::instance().threads();
    return static_cast<unsigned>(std::min<std::size_t>(n, cap));
}

// The parts of a matrix product split along n rows or columns: parallel_parts, and at most
// deterministic_product_parts in deterministic mode.
inline unsigned product_parts(std::size_t n) {
    const unsigned parts = parallel_parts(n);
    return deterministic_flag().load(std::memory_order_relaxed) ? std::min(parts, deterministic_product_parts)
                                                                : parts;
}

// The same for items that cost `work` elementwise operations in all: one part when the whole job is
// a few microseconds, so a small tensor never waits for a worker to wake.
inline constexpr std::size_t parallel_elementwise_work = std::size_t{1} << 15;
inline unsigned parallel_parts(std::size_t n, std::size_t work) {
    return work < parallel_elementwise_work ? 1u : parallel_parts(n);
}

// A job over `batch` samples of `groups` groups of work each (a convolution's output channels)
// splits over samples; with fewer samples than threads it splits over groups instead, so that every
// thread works. The parts of that split over groups, or 0 where it splits over samples.
inline unsigned group_parts(std::size_t batch, std::size_t groups) {
    const unsigned parts = batch < groups ? parallel_parts(groups) : 1u;
    return parts > batch ? parts : 0u;
}

// Runs body(begin, end, part) over contiguous ranges of [0, n), one range per part.
template <class F>
void parallel_for(std::size_t n, unsigned parts, F&& body) {
    if (parts <= 1) {
        if (n > 0) body(std::size_t{0}, n, 0u);
        return;
    }
    thread_pool::instance().run(parts, [&](unsigned i) {
        const split_range r = part_of(n, parts, i);
        if (r.begin < r.end) body(r.begin, r.end, i);
    });
}

// Scratch owned by the calling thread, one buffer per Tag: at least n elements, kept for the
// thread's life and grown only when a larger request comes, so a repeated step allocates nothing.
#if KATACHI_THREADS
template <class T, class Tag>
T* thread_scratch(std::size_t n) {
    KATACHI_THREAD_LOCAL std::vector<T> buffer;
    if (buffer.size() < n) buffer.resize(n);
    return buffer.data();
}
#else
// A single-threaded build runs every job in one part (parallel_parts), in the caller's workspace:
// no part ever asks for scratch of its own, and nothing here can allocate.
template <class T, class Tag>
T* thread_scratch(std::size_t n) {
    if (n == 0) return nullptr;
    KATACHI_THROW(std::logic_error, "katachi: a part asked for thread scratch in a single-threaded build");
}
#endif

// Grows thread_scratch<T, Tag> to at least n elements on the caller and on every worker, so that
// kernels run later find it large enough and allocate nothing. Sized for the parts a job can have,
// in deterministic mode too (then up to deterministic_parts run on the caller and the workers).
// The pool remembers the size, so workers a later set_num_threads starts grow theirs too.
template <class T, class Tag>
void reserve_thread_scratch(std::size_t n) {
    if (n == 0) return;
    thread_scratch<T, Tag>(n);
    thread_pool& pool = thread_pool::instance();
    pool.remember_reservation([](std::size_t size) { thread_scratch<T, Tag>(size); }, n);
    const unsigned threads = pool.threads();
    if (threads > 1) pool.run(threads, [n](unsigned) { thread_scratch<T, Tag>(n); });
}

// The most parts a job is cut into, whatever the mode: per-part buffers sized for this many are
// never outgrown.
inline unsigned most_parts() {
    return std::max(thread_pool::instance().threads(), deterministic_parts);
}

}  // namespace detail

// Threads katachi's kernels use (the caller and the pool's workers).
inline int get_num_threads() { return static_cast<int>(detail::thread_pool::instance().threads()); }

// Deterministic mode (off by default): results are bit-identical whatever the thread count. Every
// job is cut into the same parts on any number of threads (detail::deterministic_parts), so each
// partial sum (a convolution's weight gradient over its samples) and each block of a split product
// is the same, and the partial sums are added in the same order. Runs at a fixed seed and thread
// count are bit-identical without it; it costs the extra parts' overhead on few threads.
inline void set_deterministic(bool on) noexcept {
    detail::deterministic_flag().store(on, std::memory_order_relaxed);
}
inline bool deterministic() noexcept {
    return detail::deterministic_flag().load(std::memory_order_relaxed);
}

// Flush-denormal mode (off by default), as torch.set_flush_denormal: on x86, the caller and the
// pool's workers (those started later too) set FTZ and DAZ in their MXCSR, so a float too small for
// the normal range (below about 1.2e-38) becomes zero instead of a denormal, whose arithmetic costs
// tens of times more. Training drifts into them: weights and gradients near zero, products of
// them. The demo's epochs 2 and 3 ran 35% slower than its first from denormals alone, and its
// accuracy with flushing is the same to four digits. Returns false, and changes nothing, where the
// CPU has no such mode (not x86). Call it outside any running job (before training, as
// set_num_threads); threads of the application other than the caller keep their own mode.
inline bool set_flush_denormal(bool on) {
    if (!detail::can_flush_denormal) return false;
    detail::flush_denormal_flag().store(on, std::memory_order_relaxed);
    detail::apply_flush_denormal(on);
    detail::thread_pool& pool = detail::thread_pool::instance();
    const unsigned threads = pool.threads();
    if (threads > 1) pool.run(threads, [on](unsigned) { detail::apply_flush_denormal(on); });
    return true;
}

// Sets the threads katachi's kernels use, at least 1 (at most 64). OpenBLAS is set to one thread.
// A single-threaded build (KATACHI_THREADS 0) accepts only 1.
inline void set_num_threads(int n) {
    if (n < 1)
        KATACHI_THROW(std::invalid_argument, "katachi::set_num_threads: " + std::to_string(n) +
                                    " threads asked, at least 1 needed");
#if !KATACHI_THREADS
    if (n != 1)
        KATACHI_THROW(std::invalid_argument, "katachi::set_num_threads: " + std::to_string(n) +
                                    " threads asked in a single-threaded build (KATACHI_THREADS 0)");
#endif
    detail::thread_pool::instance().resize(std::min(static_cast<unsigned>(n), detail::max_threads));
}

}  // namespace katachi
