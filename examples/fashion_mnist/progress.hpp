// examples/fashion_mnist/progress.hpp: the training progress line.
//
// On a terminal one line is redrawn in place (at most ten times a second); when the output is a
// file or a pipe, a plain line is printed every tenth of the epoch instead, so logs stay readable.
//   epoch 1/3  step  420/938  [=========>          ]  mean loss this epoch 0.4121  acc 0.851  6120 img/s
//   ETA 25s (the whole run's training)
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>

namespace fashion_mnist {

class progress {
public:
    // `replicas` processes train alike (--distributed): the line shows this one's loss and accuracy
    // and the images per second of all of them.
    progress(std::FILE* out, std::size_t epochs, std::size_t steps_per_epoch, std::size_t replicas = 1);

    void start_epoch(std::size_t epoch);
    // After each step: the step's mean loss, correct predictions and samples.
    void step(double loss, std::size_t correct, std::size_t samples);
    // Ends the epoch's line; returns the epoch's seconds.
    double finish_epoch();

    double mean_loss() const { return samples_ ? loss_sum_ / static_cast<double>(samples_) : 0.0; }
    double accuracy() const {
        return samples_ ? static_cast<double>(correct_) / static_cast<double>(samples_) : 0.0;
    }
    bool terminal() const { return terminal_; }

private:
    void draw(bool final_line);

    std::FILE* out_;
    bool terminal_;
    std::size_t epochs_, steps_, replicas_, epoch_ = 0, step_ = 0, samples_ = 0, correct_ = 0, next_plain_ = 0;
    std::size_t run_steps_ = 0;  // steps this process has taken
    double loss_sum_ = 0, run_seconds_ = 0;  // the finished epochs' seconds
    std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace fashion_mnist
