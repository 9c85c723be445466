// katachi/data/transforms.hpp: transforms of a sample's features, applied in place by
// tensor_dataset::map.
//
//   const auto norm = data::normalize::fit(train);   // the training set's mean and deviation
//   train.map(norm);
//   test.map(norm);                                   // the same numbers for the test set
//
// normalize is PyTorch's transforms.Normalize: (x - mean) / std, one pair for every value or one
// per channel (the sample shape's first size).
#pragma once

#include <cmath>
#include <cstddef>
#include <katachi/data/dataset.hpp>
#include <katachi/error.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace katachi::data {

struct normalize {
    std::vector<double> mean{0.0};
    std::vector<double> std{1.0};

    // The mean and (population) standard deviation of every feature value of a data set, or per
    // channel, in double; what a model trained on it should be fed.
    template <class T>
    static normalize fit(const tensor_dataset<T>& set, bool per_channel = false);

    // (Both defined after the struct, not inline, so that KATACHI_EXTERN_KERNELS can take float's
    // from libkatachi, below.)
    template <class T>
    void operator()(std::span<T> sample, std::span<const std::size_t> shape) const;
};

template <class T>
normalize normalize::fit(const tensor_dataset<T>& set, bool per_channel) {
    if (set.empty()) KATACHI_THROW(std::invalid_argument, "normalize::fit: the data set is empty");
    const std::size_t channels = per_channel && !set.sample_shape().empty() ? set.sample_shape()[0] : 1;
    const std::size_t run = set.sample_size() / channels;
    std::vector<double> sum(channels), squares(channels);
    const auto values = set.features();
    for (std::size_t i = 0; i < set.size(); ++i)
        for (std::size_t c = 0; c < channels; ++c)
            for (std::size_t k = 0; k < run; ++k) {
                const double v = values[(i * channels + c) * run + k];
                sum[c] += v;
                squares[c] += v * v;
            }
    normalize n{std::vector<double>(channels), std::vector<double>(channels)};
    const double count = static_cast<double>(set.size() * run);
    for (std::size_t c = 0; c < channels; ++c) {
        n.mean[c] = sum[c] / count;
        const double var = squares[c] / count - n.mean[c] * n.mean[c];
        n.std[c] = std::sqrt(var > 1e-12 ? var : 1e-12);  // a constant feature still divides by a number
    }
    return n;
}

template <class T>
void normalize::operator()(std::span<T> sample, std::span<const std::size_t> shape) const {
    if (mean.empty() || mean.size() != std.size())
        KATACHI_THROW(std::invalid_argument,
                      "normalize: mean and std must hold one value each, or one per "
                      "channel, got " +
                          std::to_string(mean.size()) + " and " + std::to_string(std.size()));
    for (double s : std)
        if (!(s > 0))
            KATACHI_THROW(std::invalid_argument,
                          "normalize: a std must be above 0, got " + std::to_string(s));
    const std::size_t channels = mean.size();
    if (channels > 1 && (shape.empty() || shape[0] != channels))
        KATACHI_THROW(
            std::invalid_argument,
            "normalize: " + std::to_string(channels) + " channel means for samples of " +
                (shape.empty() ? std::string("no channels") : std::to_string(shape[0]) + " channels"));
    const std::size_t run = sample.size() / channels;
    for (std::size_t c = 0; c < channels; ++c) {
        const double m = mean[c], inv = 1.0 / std[c];
        for (std::size_t k = 0; k < run; ++k) {
            T& v = sample[c * run + k];
            v = static_cast<T>((static_cast<double>(v) - m) * inv);
        }
    }
}

}  // namespace katachi::data

// A program compiled with KATACHI_EXTERN_KERNELS (katachi/instances.hpp) takes float's instances
// from libkatachi (src/instances.cpp).
#define KATACHI_NORMALIZE_INSTANCES(EXTERN)                                              \
    EXTERN template normalize normalize::fit<float>(const tensor_dataset<float>&, bool); \
    EXTERN template void normalize::operator()<float>(std::span<float>, std::span<const std::size_t>) const;
#if defined(KATACHI_EXTERN_KERNELS)
namespace katachi::data {
KATACHI_NORMALIZE_INSTANCES(extern)
}  // namespace katachi::data
#endif
