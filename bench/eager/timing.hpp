// bench/eager/timing.hpp: median (min-max) of repeated runs after a warm-up.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace katachi::bench {

struct stats {
    double median_us, min_us, max_us;
};

template <class F>
stats measure(F&& f, int samples = 21, int warmup = 3) {
    for (int i = 0; i < warmup; ++i) f();
    std::vector<double> t;
    for (int i = 0; i < samples; ++i) {
        const auto start = std::chrono::steady_clock::now();
        f();
        t.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(t.begin(), t.end());
    return {t[t.size() / 2], t.front(), t.back()};
}

inline void report(const char* name, const stats& s) {
    std::printf("%-52s %10.1f us  (%.1f - %.1f)\n", name, s.median_us, s.min_us, s.max_us);
}

}  // namespace katachi::bench
