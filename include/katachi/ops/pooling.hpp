// katachi/ops/pooling.hpp: what max_pool2d and avg_pool2d share: their window options and their
// shape rule (PyTorch's, ceil_mode included).
#pragma once

#include <katachi/ops/op.hpp>
#include <katachi/shape.hpp>

namespace katachi::ops::detail {

// The spelling of a pair option in the graph face: ", stride<2>" or ", stride<2, 3>"; nothing
// when it has its default.
constexpr void spell_pair(text& t, const char* what, size2 v, size2 dflt) {
    if (v == dflt) return;
    t << ", " << what << '<' << v.h;
    if (v.w != v.h) t << ", " << v.w;
    t << '>';
}

// The output of a 2-d pooling of a per-sample [C, H, W], or why there is none.
constexpr rule pool2d_rule(const dims& in, size2 kernel, size2 stride, size2 padding, size2 dilation,
                           bool ceil_mode) {
    if (in.rank != 3)
        return text() << "takes a per-sample [C, H, W], got " << in
                      << ": remove the flatten before it, or use a layer for this rank";
    const size2 s = stride == size2(0) ? kernel : stride;
    dims out = in;
    for (std::size_t i = 0; i < 2; ++i) {
        const size_result r = pool_output({.input = in[1 + i],
                                           .kernel = kernel[i],
                                           .stride = s[i],
                                           .padding = padding[i],
                                           .dilation = dilation[i],
                                           .ceil_mode = ceil_mode});
        if (!r.ok()) {
            text t;
            t << describe(r.error) << " in " << (i == 0 ? "height" : "width") << " (input " << in[1 + i]
              << ", kernel " << kernel[i] << ", stride " << s[i] << ", padding " << padding[i]
              << ", dilation " << dilation[i] << (ceil_mode ? ", ceil_mode" : "") << ")";
            if (r.error == size_error::kernel_larger_than_input)
                t << ": use a smaller kernel or more padding, or remove a pooling layer before it";
            else if (r.error == size_error::padding_too_large)
                t << ": reduce the padding";
            return t;
        }
        out[1 + i] = r.value;
    }
    return out;
}

}  // namespace katachi::ops::detail
