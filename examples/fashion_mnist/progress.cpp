// examples/fashion_mnist/progress.cpp
#include "progress.hpp"

#include <unistd.h>
#include <string>

namespace fashion_mnist {

progress::progress(std::FILE* out, std::size_t epochs, std::size_t steps_per_epoch, std::size_t replicas)
    : out_(out),
      terminal_(::isatty(::fileno(out)) == 1),
      epochs_(epochs),
      steps_(steps_per_epoch),
      replicas_(replicas) {}

void progress::start_epoch(std::size_t epoch) {
    epoch_ = epoch;
    step_ = samples_ = correct_ = 0;
    loss_sum_ = 0;
    next_plain_ = 1;
    start_ = last_draw_ = std::chrono::steady_clock::now();
}

void progress::step(double loss, std::size_t correct, std::size_t samples) {
    ++step_;
    ++run_steps_;
    loss_sum_ += loss * static_cast<double>(samples);
    correct_ += correct;
    samples_ += samples;
    const auto now = std::chrono::steady_clock::now();
    if (terminal_) {
        if (now - last_draw_ >= std::chrono::milliseconds(100) || step_ == steps_) {
            last_draw_ = now;
            draw(false);
        }
    } else if (step_ * 10 >= next_plain_ * steps_ && step_ < steps_) {
        while (step_ * 10 >= next_plain_ * steps_) ++next_plain_;
        draw(false);
    }
}

double progress::finish_epoch() {
    draw(true);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    run_seconds_ += seconds;
    return seconds;
}

void progress::draw(bool final_line) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(samples_ * replicas_) / seconds : 0.0;
    // The whole run's training steps left, at this process's mean pace so far.
    const std::size_t left_steps = (epochs_ - epoch_) * steps_ + (steps_ - step_);
    const double left = run_steps_ ? (run_seconds_ + seconds) * static_cast<double>(left_steps) /
                                         static_cast<double>(run_steps_)
                                   : 0.0;
    const std::size_t width = 20, filled = steps_ ? width * step_ / steps_ : width;
    std::string bar(filled, '=');
    if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
    char when[32];
    if (final_line)
        std::snprintf(when, sizeof when, "%.1fs", seconds);
    else
        std::snprintf(when, sizeof when, "run ETA %.0fs", left);
    std::fprintf(out_,
                 "%sepoch %zu/%zu  step %4zu/%zu  [%s]  mean loss this epoch %.4f  acc %.3f  %5.0f img/s  %s%s%s",
                 terminal_ ? "\r" : "", epoch_, epochs_, step_, steps_, bar.c_str(), mean_loss(), accuracy(),
                 rate, when, terminal_ ? "\x1b[K" : "", final_line || !terminal_ ? "\n" : "");
    std::fflush(out_);
}

}  // namespace fashion_mnist
