// The pooling layers, through their op definitions (katachi/ops/).
#include "katachi/eager/modules/pooling.hpp"

#include <sstream>

#include "katachi/eager/functional/layers.hpp"
#include "op_module.hpp"

namespace katachi::eager::nn {

namespace {

std::string pair_text(size2 s) {
    std::ostringstream os;
    os << '(' << s.h << ", " << s.w << ')';
    return os.str();
}

}  // namespace

// ---- pooling -------------------------------------------------------------------------------------

tensor max_pool2d::forward(const tensor& x) {
    return eager::detail::apply<ops::max_pool2d, float, 1>(options, {x}, {}, {});
}
sizes max_pool2d::output_shape(const sizes& input) const {
    return detail::op_output_shape<ops::max_pool2d>(type_name(), options, input);
}
std::string max_pool2d::extra_repr() const {
    const size2 stride = options.stride == size2(0) ? options.kernel_size : options.stride;
    std::ostringstream os;
    os << "kernel_size=" << pair_text(options.kernel_size) << ", stride=" << pair_text(stride)
       << ", padding=" << pair_text(options.padding) << ", dilation=" << pair_text(options.dilation)
       << ", ceil_mode=" << (options.ceil_mode ? "true" : "false");
    return os.str();
}

tensor avg_pool2d::forward(const tensor& x) {
    return eager::detail::apply<ops::avg_pool2d, float, 1>(options, {x}, {}, {});
}
sizes avg_pool2d::output_shape(const sizes& input) const {
    return detail::op_output_shape<ops::avg_pool2d>(type_name(), options, input);
}
std::string avg_pool2d::extra_repr() const {
    const size2 stride = options.stride == size2(0) ? options.kernel_size : options.stride;
    std::ostringstream os;
    os << "kernel_size=" << pair_text(options.kernel_size) << ", stride=" << pair_text(stride)
       << ", padding=" << pair_text(options.padding);
    if (options.ceil_mode) os << ", ceil_mode=true";
    if (!options.count_include_pad) os << ", count_include_pad=false";
    if (options.divisor_override) os << ", divisor_override=" << options.divisor_override;
    return os.str();
}

tensor adaptive_avg_pool2d::forward(const tensor& x) {
    return eager::detail::apply<ops::adaptive_avg_pool2d, float, 1>({.output_size = output_size}, {x}, {}, {});
}
sizes adaptive_avg_pool2d::output_shape(const sizes& input) const {
    return detail::op_output_shape<ops::adaptive_avg_pool2d>(type_name(), {.output_size = output_size}, input);
}
std::string adaptive_avg_pool2d::extra_repr() const {
    return "output_size=" + pair_text(output_size);
}

}  // namespace katachi::eager::nn
