// katachi/eager/index_tensor.hpp: int64 indices with a shape, what argmax, argmin and the indices of
// max and min return, and what index_select takes (PyTorch's int64 tensors).
//
// It is a plain value (no autograd, no views): the row-major values and the shape. It converts to a
// std::span<const std::int64_t>, so argmax's indices can be passed where the losses take targets.
// It prints as PyTorch prints an int64 tensor: "tensor([[1, 0],\n        [2, 2]])".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "katachi/eager/sizes.hpp"

namespace katachi::eager {

class index_tensor {
public:
    index_tensor() = default;
    // A rank-1 tensor of these indices.
    index_tensor(std::initializer_list<std::int64_t> values)  // NOLINT: reads as a list of indices
        : values_(values) {
        shape_.push_back(values_.size());
    }
    // Row-major values of this shape (values.size() must be the shape's product).
    index_tensor(std::vector<std::int64_t> values, const sizes& shape) : values_(std::move(values)), shape_(shape) {
        if (values_.size() != shape_.numel())
            throw std::invalid_argument("index_tensor: " + std::to_string(values_.size()) +
                                        " values do not fill shape " + shape_.str());
    }

    const sizes& shape() const noexcept { return shape_; }
    std::size_t dim() const noexcept { return shape_.size(); }
    std::size_t numel() const noexcept { return values_.size(); }
    const std::int64_t* data() const noexcept { return values_.data(); }
    const std::vector<std::int64_t>& to_vector() const noexcept { return values_; }
    std::span<const std::int64_t> span() const noexcept { return values_; }
    operator std::span<const std::int64_t>() const noexcept { return values_; }  // NOLINT

    // The value of a one-element tensor.
    std::int64_t item() const {
        if (values_.size() != 1)
            throw std::invalid_argument("item: the index tensor has shape " + shape_.str() +
                                        "; item() needs exactly one element");
        return values_[0];
    }
    // One element, by its index.
    std::int64_t at(std::initializer_list<std::size_t> index) const {
        if (index.size() != shape_.size())
            throw std::out_of_range("at: " + std::to_string(index.size()) + " indices for an index tensor of shape " +
                                    shape_.str());
        std::size_t offset = 0, d = 0;
        for (std::size_t k : index) {
            if (k >= shape_[d])
                throw std::out_of_range("at: index " + std::to_string(k) + " is out of range for dimension " +
                                        std::to_string(d) + " of shape " + shape_.str());
            offset = offset * shape_[d++] + k;
        }
        return values_[offset];
    }

private:
    std::vector<std::int64_t> values_;
    sizes shape_;
};

std::ostream& operator<<(std::ostream& os, const index_tensor& t);

}  // namespace katachi::eager
