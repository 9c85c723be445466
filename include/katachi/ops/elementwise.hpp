// katachi/ops/elementwise.hpp: what the ops that map each element on its own share (relu, sigmoid,
// tanh, gelu, leaky_relu, dropout): the output has the input's shape, and the kernels see the
// batch as one flat run of elements. The eager face applies such an op to a tensor of any shape,
// the graph face to a batch of its per-sample shape.
#pragma once

#include <array>
#include <cstddef>
#include <katachi/kernels/tensor_view.hpp>
#include <katachi/ops/op.hpp>

namespace katachi::ops {

struct elementwise_op : op_defaults {
    static constexpr bool elementwise = true;
    static constexpr rule output_shape(const auto&, const dims& in) { return in; }
};

// The batch's elements as one run.
template <class T>
kernels::tensor_view<T, 1> flat(T* p, std::size_t batch, const dims& in) {
    return kernels::tensor_view<T, 1>(p, std::array<std::size_t, 1>{batch * in.size()});
}

}  // namespace katachi::ops
