// katachi/data/eager.hpp: the eager face's side of katachi::data: a batch as tensors, and the
// metrics over logits tensors. Needs the katachi library (the eager face).
//
//   for (const auto& b : loader) {
//       const eager::tensor x = data::input_tensor(b);          // [n, sample shape...]
//       const eager::tensor loss = eager::cross_entropy(model(x), b.target_span());
//       ...
//   }
#pragma once

#include <cstdint>
#include <katachi/data/loader.hpp>
#include <katachi/data/metrics.hpp>
#include <katachi/eager/tensor.hpp>
#include <string>
#include <vector>

namespace katachi::data {

// The batch's features as a new tensor, written once straight from the data set (an eager tensor
// owns its storage, so this is the one copy a shuffled or unshuffled batch needs).
template <class Batch>
auto input_tensor(const Batch& b) {
    using T = typename Batch::value_type;
    eager::sizes shape;
    shape.push_back(b.size());
    for (std::size_t d : b.sample_shape()) shape.push_back(d);
    eager::basic_tensor<T> x = eager::basic_tensor<T>::empty(shape);
    b.copy_input_to(x.data());
    return x;
}

namespace detail {

template <class T>
struct logits_access<eager::basic_tensor<T>> {
    static std::vector<std::int64_t> argmax(const char* where, const eager::basic_tensor<T>& logits) {
        if (logits.dim() != 2)
            KATACHI_THROW(std::invalid_argument, std::string(where) + ": takes logits [N, classes], got shape " +
                                                     logits.shape().str());
        if (logits.size(1) == 0) KATACHI_THROW(std::invalid_argument, std::string(where) + ": the logits have 0 classes");
        const eager::basic_tensor<T> c = logits.contiguous();
        std::vector<std::int64_t> out(c.size(0));
        argmax_rows(c.data(), c.size(0), c.size(1), out.data());
        return out;
    }
};

}  // namespace detail

}  // namespace katachi::data
