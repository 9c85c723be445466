// katachi/eager/functional/losses.hpp: losses with mean reduction, as rank-0 tensors.
//
// Class targets are int64 indices, one per sample, passed as a span (a std::vector converts).
// Each loss calls its kernel for the forward and the backward (src/eager/ops/losses.cpp).
#pragma once

#include <cstdint>
#include <span>

#include "katachi/eager/tensor.hpp"

namespace katachi::eager {

struct cross_entropy_options {
    double label_smoothing = 0;
    std::int64_t ignore_index = -100;
};

// Cross-entropy of logits[N, C] against target[N], PyTorch's nn.CrossEntropyLoss.
template <class T>
basic_tensor<T> cross_entropy(const basic_tensor<T>& logits, std::span<const std::int64_t> target,
                              const cross_entropy_options& options = {});
// Negative log-likelihood of log_probs[N, C] against target[N].
template <class T>
basic_tensor<T> nll_loss(const basic_tensor<T>& log_probs, std::span<const std::int64_t> target,
                         std::int64_t ignore_index = -100);
// Mean of (x - target)^2; differentiable in both.
template <class T>
basic_tensor<T> mse_loss(const basic_tensor<T>& x, const basic_tensor<T>& target);

}  // namespace katachi::eager
