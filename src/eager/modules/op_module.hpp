// src/eager/modules/op_module.hpp: what the eager modules take from an op's one definition
// (katachi/ops/): its shape rule on a batched shape, and PyTorch's initialisation of its
// parameters and buffers.
#pragma once

#include <array>
#include <string>

#include "../ops/op_apply.hpp"
#include "katachi/eager/modules/module.hpp"
#include "katachi/eager/random.hpp"

namespace katachi::eager::nn::detail {

// The output shape for a batched input shape by the op's rule, or the rule's sentence after
// "<module>: ".
template <class Op, class... Inputs>
sizes op_output_shape(const std::string& module_name, const typename Op::options_type& o, const Inputs&... input) {
    const ops::rule r = Op::output_shape(o, eager::detail::per_sample(Op::name, input)...);
    if (!r.ok()) throw shape_mismatch(module_name + ": " + std::string(r.why.view()));
    return eager::detail::batched(std::get<0>(std::tie(input...))[0], r.out);
}

// The op's initialisation of a module's parameters and buffers (float tensors, undefined where the
// options drop one), from the default generator.
template <class Op>
void reset_op(const typename Op::options_type& o, std::array<tensor, 4> params, std::array<tensor, 4> buffers) {
    std::array<float*, 4> p{}, b{};
    for (std::size_t i = 0; i < 4; ++i) {
        p[i] = params[i].defined() ? params[i].data() : nullptr;
        b[i] = buffers[i].defined() ? buffers[i].data() : nullptr;
    }
    Op::reset(o, p, b, default_generator());
}

}  // namespace katachi::eager::nn::detail
