// test/support/two_ranks.hpp: cross-rank sums in one process, for the single-process tests of
// synchronised batch norm (katachi/ops/cross_rank.hpp).
//
//   installed_sum guard(&twice);            // a second rank holding this rank's batch again
//   installed_sum guard(&two_threads_sum);  // two threads as two ranks:
//   run_as_two_ranks([&] { ...rank 0... }, [&] { ...rank 1... });
//
// two_threads_sum is a real all-reduce between two threads: each call waits for the other
// thread's call of the same round and both leave with the sum of the two buffers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <katachi/ops/cross_rank.hpp>
#include <mutex>
#include <thread>
#include <vector>

namespace katachi::test {

// Installs a sum while it lives, then puts back the one before.
class installed_sum {
public:
    explicit installed_sum(kernels::cross_rank_sum sum) : before_(ops::install_cross_rank_sum(sum)) {}
    installed_sum(const installed_sum&) = delete;
    installed_sum& operator=(const installed_sum&) = delete;
    ~installed_sum() { ops::install_cross_rank_sum(before_); }

private:
    kernels::cross_rank_sum before_;
};

// How many times a test sum ran (reset by the test).
inline std::size_t sum_calls = 0;

// Two ranks with the same data: every sum is twice this rank's.
inline void twice(double* data, std::size_t count) {
    ++sum_calls;
    for (std::size_t i = 0; i < count; ++i) data[i] *= 2;
}

namespace detail {
struct two_threads {
    std::mutex m;
    std::condition_variable cv;
    std::vector<double> partial, result;
    int arrived = 0;
    unsigned long round = 0;
};
inline two_threads shared_sum;
}  // namespace detail

// The all-reduce of two threads. The thread that completes a round writes the result; the other
// copies it before it can enter the next round, so the result is never overwritten unread.
inline void two_threads_sum(double* data, std::size_t count) {
    auto& s = detail::shared_sum;
    std::unique_lock lock(s.m);
    if (s.arrived == 0) {
        s.partial.assign(data, data + count);
        s.arrived = 1;
        const unsigned long mine = s.round;
        s.cv.wait(lock, [&] { return s.round != mine; });
    } else {
        ++sum_calls;
        for (std::size_t i = 0; i < count; ++i) s.partial[i] += data[i];
        s.result = s.partial;
        s.arrived = 0;
        ++s.round;
        s.cv.notify_all();
    }
    for (std::size_t i = 0; i < count; ++i) data[i] = s.result[i];
}

// Runs rank0 and rank1 on two threads and waits for both; an exception in either is rethrown.
template <class F0, class F1>
void run_as_two_ranks(F0&& rank0, F1&& rank1) {
    std::exception_ptr failure[2];
    std::thread other([&] {
        try {
            rank1();
        } catch (...) {
            failure[1] = std::current_exception();
        }
    });
    try {
        rank0();
    } catch (...) {
        failure[0] = std::current_exception();
    }
    other.join();
    for (const auto& f : failure)
        if (f) std::rethrow_exception(f);
}

}  // namespace katachi::test
