// The layer norm layer: ops::layer_norm's parameters, initialisation, rule and kernels.
#include "katachi/eager/modules/layer_norm.hpp"

#include <sstream>

#include "op_module.hpp"

namespace katachi::eager::nn {

layer_norm::layer_norm(const layer_norm_options& o) : options(o) {
    if (o.normalized_shape.rank == 0)
        throw std::invalid_argument("layer_norm: normalized_shape must name one to four trailing sizes");
    for (const ops::tensor_spec& s : ops::layer_norm::parameters(o)) {
        sizes shape;
        for (std::size_t i = 0; i < s.rank; ++i) shape.push_back(s.dims[i]);
        (std::string(s.name) == "weight" ? weight : bias) =
            parameter(register_parameter(s.name, tensor::empty(shape)));
    }
    reset_parameters();
}

void layer_norm::reset_parameters() {
    detail::reset_op<ops::layer_norm>(options, {weight, bias}, {});
}

tensor layer_norm::forward(const tensor& x) {
    return eager::detail::apply<ops::layer_norm, float, 1>(options, {x}, {weight, bias}, {});
}

sizes layer_norm::output_shape(const sizes& input) const {
    return detail::op_output_shape<ops::layer_norm>(type_name(), options, input);
}

std::string layer_norm::extra_repr() const {
    std::ostringstream os;
    os << '(';
    for (std::size_t i = 0; i < options.normalized_shape.rank; ++i)
        os << (i ? ", " : "") << options.normalized_shape.d[i];
    os << (options.normalized_shape.rank == 1 ? ",)" : ")") << ", eps=" << options.eps.value()
       << ", elementwise_affine=" << (options.elementwise_affine ? "true" : "false");
    return os.str();
}

}  // namespace katachi::eager::nn
