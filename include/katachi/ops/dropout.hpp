// katachi/ops/dropout.hpp: dropout, defined once for both faces. In training each element is
// zeroed with probability p and the kept ones are scaled by 1 / (1 - p); the mask (0 or the scale)
// is kept for the backward, which reads nothing else. In evaluation it is the identity (the eager
// face then returns its input itself, as PyTorch does).
#pragma once

#include <katachi/kernels/dropout.hpp>
#include <katachi/ops/elementwise.hpp>

namespace katachi::ops {

struct dropout_options {
    real p = 0.5;
};

struct dropout : elementwise_op {
    using options_type = dropout_options;
    static constexpr const char* name = "dropout";
    static constexpr bool backward_reads_input = false;
    static constexpr text spelling(const dropout_options& o) { return text() << "dropout(p=" << o.p.value() << ")"; }

    static constexpr rule output_shape(const dropout_options& o, const dims& in) {
        if (!(o.p.value() >= 0.0 && o.p.value() <= 1.0))
            return text() << "takes a drop probability p in [0, 1], got " << o.p.value();
        return in;
    }

    static constexpr std::size_t saved_size(const dropout_options&, const dims& in, std::size_t batch) {
        return batch * in.size();  // the mask
    }

    template <class T>
    static void forward(const dropout_options& o, const dims& in, const call<T>& c) {
        kernels::dropout_forward(flat(c.x[0], c.batch, in), flat(c.y, c.batch, in), flat(c.saved, c.batch, in),
                                 o.p.value(), c.training, *c.gen);
    }

    template <class T>
    static void backward(const dropout_options&, const dims& in, const call<T>& c) {
        if (c.dx[0])
            kernels::dropout_backward(flat<const T>(c.saved, c.batch, in), flat(c.dy, c.batch, in),
                                      flat(c.dx[0], c.batch, in), c.dx_mode[0]);
    }
};

}  // namespace katachi::ops
