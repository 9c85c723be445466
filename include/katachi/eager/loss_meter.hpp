// katachi/eager/loss_meter.hpp: a running mean of loss values that holds numbers, never tensors.
//
// The pitfall it avoids: summing loss *tensors* over an epoch (total = total + loss) records a
// node per step and keeps every step's tape reachable from `total`, so memory grows with every
// batch. Take the value instead: meter.add(loss.item(), batch_size). Passing a tensor to add() is
// a compile error for that reason.
#pragma once

#include <cstddef>

#include "katachi/eager/tensor.hpp"

namespace katachi::eager {

class loss_meter {
public:
    // Adds one step's mean loss, weighted by the samples it covered.
    void add(double value, std::size_t samples = 1) noexcept {
        sum_ += value * static_cast<double>(samples);
        count_ += samples;
    }
    template <class T>
    void add(const basic_tensor<T>&, std::size_t = 1) = delete;  // add(loss.item()) instead

    double mean() const noexcept { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
    std::size_t count() const noexcept { return count_; }
    void reset() noexcept { sum_ = 0, count_ = 0; }

private:
    double sum_ = 0;
    std::size_t count_ = 0;
};

}  // namespace katachi::eager
