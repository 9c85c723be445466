// layer_norm: ops::layer_norm (katachi/ops/layer_norm.hpp) through the eager adaptor.
#include "katachi/ops/layer_norm.hpp"

#include "katachi/eager/functional/layers.hpp"
#include "op_apply.hpp"

namespace katachi::eager {

template <class T>
basic_tensor<T> layer_norm(const basic_tensor<T>& x, const sizes& normalized_shape, const basic_tensor<T>& weight,
                           const basic_tensor<T>& bias, double eps) {
    if (normalized_shape.size() == 0 || normalized_shape.size() > 4)
        throw std::invalid_argument("layer_norm: normalized_shape " + normalized_shape.str() +
                                    " must name one to four trailing sizes");
    if (weight.defined() != bias.defined())
        throw std::invalid_argument("layer_norm: weight and bias must both be given or both be absent");
    for (const basic_tensor<T>* p : {&weight, &bias})
        if (p->defined() && !(p->shape() == normalized_shape))
            throw shape_mismatch(std::string("layer_norm: ") + (p == &weight ? "weight" : "bias") + " has shape " +
                                 p->shape().str() + ", expected normalized_shape " + normalized_shape.str());
    ops::layer_norm_options o{.eps = eps, .elementwise_affine = weight.defined()};
    for (std::size_t i = 0; i < normalized_shape.size(); ++i) o.normalized_shape.d[i] = normalized_shape[i];
    o.normalized_shape.rank = normalized_shape.size();
    if (x.dim() == normalized_shape.size()) {  // one sample, no batch dimension
        sizes batched{1};
        for (std::size_t d : x.shape()) batched.push_back(d);
        return detail::apply<ops::layer_norm, T, 1>(o, {x.reshape(batched)}, {weight, bias}, {}).reshape(x.shape());
    }
    return detail::apply<ops::layer_norm, T, 1>(o, {x}, {weight, bias}, {});
}

template basic_tensor<float> layer_norm(const basic_tensor<float>&, const sizes&, const basic_tensor<float>&,
                                        const basic_tensor<float>&, double);
template basic_tensor<double> layer_norm(const basic_tensor<double>&, const sizes&, const basic_tensor<double>&,
                                         const basic_tensor<double>&, double);

}  // namespace katachi::eager
