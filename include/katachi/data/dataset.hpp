// katachi/data/dataset.hpp: a data set of (features, class) samples held in memory, for both faces.
//
//   auto train = katachi::data::tensor_dataset<float>::from(images, labels);   // images [N, 1, 28, 28]
//   auto train = katachi::data::idx_dataset("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
//
// The features are one row-major block, [N, sample shape...]; each sample's target is a class index
// (int64, as PyTorch's cross_entropy takes it). A data loader (data/loader.hpp) batches it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <katachi/error.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>
#include <xtensor/xexpression.hpp>

namespace katachi::data {

template <class T = float>
class tensor_dataset {
public:
    using value_type = T;

    tensor_dataset() = default;

    // features [count * product(sample_shape)] and one target per sample.
    tensor_dataset(std::vector<T> features, std::vector<std::size_t> sample_shape, std::vector<std::int64_t> targets)
        : features_(std::move(features)), shape_(std::move(sample_shape)), targets_(std::move(targets)) {
        sample_size_ = 1;
        for (std::size_t d : shape_) sample_size_ *= d;
        if (sample_size_ == 0)
            KATACHI_THROW(std::invalid_argument,
                          "tensor_dataset: a sample must hold at least one value, the sample shape has a 0");
        if (features_.size() != targets_.size() * sample_size_)
            KATACHI_THROW(std::invalid_argument,
                          "tensor_dataset: " + std::to_string(features_.size()) + " feature values for " +
                              std::to_string(targets_.size()) + " targets of " + std::to_string(sample_size_) +
                              " values each; the counts must agree");
    }

    // From xtensor expressions: features [N, ...] and targets [N] (any integer type).
    template <class F, class L>
    static tensor_dataset from(const xt::xexpression<F>& features_in, const xt::xexpression<L>& targets_in) {
        const auto& f = features_in.derived_cast();
        const auto& l = targets_in.derived_cast();
        if (f.dimension() < 1 || l.dimension() != 1)
            KATACHI_THROW(std::invalid_argument, "tensor_dataset::from: features must be [N, ...] and targets [N], got " +
                                                     std::to_string(f.dimension()) + " and " +
                                                     std::to_string(l.dimension()) + " dimensions");
        if (f.shape()[0] != l.shape()[0])
            KATACHI_THROW(std::invalid_argument, "tensor_dataset::from: " + std::to_string(f.shape()[0]) +
                                                     " samples of features but " + std::to_string(l.shape()[0]) +
                                                     " targets; the counts must agree");
        std::vector<std::size_t> shape(f.shape().begin() + 1, f.shape().end());
        std::vector<T> values(f.size());
        std::size_t i = 0;
        for (auto v : f) values[i++] = static_cast<T>(v);  // row-major order
        std::vector<std::int64_t> targets(l.size());
        i = 0;
        for (auto v : l) targets[i++] = static_cast<std::int64_t>(v);
        return tensor_dataset(std::move(values), std::move(shape), std::move(targets));
    }

    std::size_t size() const { return targets_.size(); }
    bool empty() const { return targets_.empty(); }
    const std::vector<std::size_t>& sample_shape() const { return shape_; }
    std::size_t sample_size() const { return sample_size_; }

    const T* sample(std::size_t i) const { return features_.data() + checked(i) * sample_size_; }
    std::int64_t target(std::size_t i) const { return targets_[checked(i)]; }
    std::span<const T> features() const { return features_; }
    std::span<T> features() { return features_; }
    std::span<const std::int64_t> targets() const { return targets_; }

    // Keeps the first `count` samples (all when count is 0 or above the size), as a quick subset.
    void truncate(std::size_t count) {
        if (count == 0 || count >= size()) return;
        targets_.resize(count);
        features_.resize(count * sample_size_);
    }

    // Applies a transform to every sample's features in place: transform(features of one sample,
    // sample shape); see data/transforms.hpp.
    template <class Transform>
    tensor_dataset& map(const Transform& transform) {
        for (std::size_t i = 0; i < size(); ++i)
            transform(std::span<T>(features_.data() + i * sample_size_, sample_size_), std::span<const std::size_t>(shape_));
        return *this;
    }

private:
    std::size_t checked(std::size_t i) const {
        if (i >= size())
            KATACHI_THROW(std::out_of_range, "tensor_dataset: sample " + std::to_string(i) + " of a data set of " +
                                                 std::to_string(size()));
        return i;
    }

    std::vector<T> features_;
    std::vector<std::size_t> shape_;
    std::vector<std::int64_t> targets_;
    std::size_t sample_size_ = 1;
};

}  // namespace katachi::data
