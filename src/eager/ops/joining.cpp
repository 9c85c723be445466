// Joining tensors: cat along an existing dimension and stack along a new one (indexing.hpp). The
// gradient of each input is its block of the output's gradient.
#include <string>
#include <vector>

#include "broadcast.hpp"
#include "katachi/eager/functional/indexing.hpp"

namespace katachi::eager {

namespace {

// The output is `outer` runs, each the inputs' blocks side by side; input k's block is block[k]
// elements (its size in the joined dimension times what follows it).
template <class T>
struct cat_node final : node<T> {
    std::vector<sizes> input_shapes;
    std::vector<std::size_t> block;
    std::size_t outer;
    cat_node(const char* name, std::vector<sizes> s, std::vector<std::size_t> b, std::size_t o)
        : node<T>(name), input_shapes(std::move(s)), block(std::move(b)), outer(o) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        std::size_t run = 0;
        for (const std::size_t b : block) run += b;
        std::size_t at = 0;
        for (std::size_t k = 0; k < block.size(); at += block[k], ++k) {
            if (!this->needs_input_grad(k)) continue;
            dx[k] = basic_tensor<T>::empty(input_shapes[k]);
            for (std::size_t a = 0; a < outer; ++a)
                std::copy_n(dy.data() + a * run + at, block[k], dx[k].data() + a * block[k]);
        }
    }
};

template <class T>
basic_tensor<T> join(const char* name, std::span<const basic_tensor<T>> tensors_in, std::size_t d) {
    std::vector<basic_tensor<T>> tensors;
    tensors.reserve(tensors_in.size());
    for (const auto& t : tensors_in) tensors.push_back(t.contiguous());
    const sizes& first = tensors[0].shape();
    sizes out = first;
    out[d] = 0;
    std::size_t outer = 1;
    for (std::size_t i = 0; i < d; ++i) outer *= first[i];
    std::vector<sizes> shapes;
    std::vector<std::size_t> block;
    for (const auto& t : tensors) {
        out[d] += t.shape()[d];
        shapes.push_back(t.shape());
        block.push_back(outer == 0 ? 0 : t.numel() / outer);
    }
    basic_tensor<T> y = basic_tensor<T>::empty(out);
    T* o = y.data();
    for (std::size_t a = 0; a < outer; ++a)
        for (std::size_t k = 0; k < tensors.size(); ++k) o = std::copy_n(tensors[k].data() + a * block[k], block[k], o);
    record<cat_node<T>>(y, std::span<const basic_tensor<T>>(tensors), name, std::move(shapes), std::move(block), outer);
    return y;
}

}  // namespace

template <class T>
basic_tensor<T> cat(std::span<const basic_tensor<T>> tensors, std::ptrdiff_t dim) {
    if (tensors.empty()) throw std::invalid_argument("cat: expected a non-empty list of Tensors");
    const sizes& first = tensors[0].shape();
    for (std::size_t k = 0; k < tensors.size(); ++k)
        if (tensors[k].dim() == 0)
            throw shape_mismatch("cat: zero-dimensional tensor (at position " + std::to_string(k) +
                                 ") cannot be concatenated");
    const std::size_t d = detail::torch_dim("cat", dim, first.size());
    for (std::size_t k = 1; k < tensors.size(); ++k) {
        const sizes& s = tensors[k].shape();
        if (s.size() != first.size())
            throw shape_mismatch("cat: Tensors must have same number of dimensions: got " + std::to_string(first.size()) +
                                 " and " + std::to_string(s.size()));
        for (std::size_t i = 0; i < s.size(); ++i)
            if (i != d && s[i] != first[i])
                throw shape_mismatch("cat: Sizes of tensors must match except in dimension " + std::to_string(d) +
                                     ". Expected size " + std::to_string(first[i]) + " but got size " +
                                     std::to_string(s[i]) + " for tensor number " + std::to_string(k) +
                                     " in the list.");
    }
    return join("cat", tensors, d);
}

template <class T>
basic_tensor<T> stack(std::span<const basic_tensor<T>> tensors, std::ptrdiff_t dim) {
    if (tensors.empty()) throw std::invalid_argument("stack: stack expects a non-empty TensorList");
    const sizes& first = tensors[0].shape();
    for (std::size_t k = 1; k < tensors.size(); ++k)
        if (!(tensors[k].shape() == first))
            throw shape_mismatch("stack: stack expects each tensor to be equal size, but got " + first.str() +
                                 " at entry 0 and " + tensors[k].shape().str() + " at entry " + std::to_string(k));
    const std::size_t d = detail::torch_dim("stack", dim, first.size() + 1);
    sizes with_one;
    for (std::size_t i = 0; i <= first.size(); ++i) with_one.push_back(i < d ? first[i] : i == d ? 1 : first[i - 1]);
    std::vector<basic_tensor<T>> parts;
    parts.reserve(tensors.size());
    for (const auto& t : tensors) parts.push_back(t.reshape(with_one));
    return join("stack", std::span<const basic_tensor<T>>(parts), d);
}

#define KATACHI_JOINING(T)                                                                \
    template basic_tensor<T> cat(std::span<const basic_tensor<T>>, std::ptrdiff_t);         \
    template basic_tensor<T> stack(std::span<const basic_tensor<T>>, std::ptrdiff_t);
KATACHI_JOINING(float)
KATACHI_JOINING(double)
#undef KATACHI_JOINING

}  // namespace katachi::eager
