// batch_norm: ops::batch_norm (katachi/ops/batch_norm.hpp) through the eager adaptor.
#include "katachi/ops/batch_norm.hpp"

#include "../support.hpp"
#include "katachi/eager/functional/layers.hpp"
#include "op_apply.hpp"

namespace katachi::eager {

namespace {

template <class T>
void require_channels(const char* what, const basic_tensor<T>& v, std::size_t c, const sizes& x) {
    if (v.defined() && !(v.shape() == sizes{c}))
        throw shape_mismatch(std::string("batch_norm: ") + what + " has shape " + v.shape().str() +
                             " but the input of shape " + x.str() + " has " + std::to_string(c) +
                             " channels");
}

}  // namespace

template <class T>
basic_tensor<T> batch_norm(const basic_tensor<T>& x_in, const basic_tensor<T>& running_mean,
                           const basic_tensor<T>& running_var, const basic_tensor<T>& weight_in,
                           const basic_tensor<T>& bias_in, bool training, double momentum, double eps) {
    if (x_in.dim() < 2)
        throw shape_mismatch("batch_norm: the input has shape " + x_in.shape().str() +
                             ", expected [N, C, *] with channels in dimension 1");
    if (weight_in.defined() != bias_in.defined())
        throw std::invalid_argument("batch_norm: weight and bias must both be given or both be absent");
    if (running_mean.defined() != running_var.defined())
        throw std::invalid_argument(
            "batch_norm: running_mean and running_var must both be given or both be absent");
    const basic_tensor<T>& x = x_in;
    const std::size_t c = x.size(1);
    require_channels("weight", weight_in, c, x.shape());
    require_channels("bias", bias_in, c, x.shape());
    require_channels("running_mean", running_mean, c, x.shape());
    require_channels("running_var", running_var, c, x.shape());
    if (!training && !running_mean.defined())
        throw std::invalid_argument("batch_norm: evaluation needs running_mean and running_var");
    const ops::batch_norm_options o{.num_features = c,
                                    .eps = eps,
                                    .momentum = momentum,
                                    .affine = weight_in.defined(),
                                    .track_running_stats = running_mean.defined()};
    return detail::apply<ops::batch_norm, T, 1>(o, {x}, {weight_in, bias_in}, {running_mean, running_var},
                                                {.training = training});
}

template basic_tensor<float> batch_norm(const basic_tensor<float>&, const basic_tensor<float>&,
                                        const basic_tensor<float>&, const basic_tensor<float>&,
                                        const basic_tensor<float>&, bool, double, double);
template basic_tensor<double> batch_norm(const basic_tensor<double>&, const basic_tensor<double>&,
                                         const basic_tensor<double>&, const basic_tensor<double>&,
                                         const basic_tensor<double>&, bool, double, double);

}  // namespace katachi::eager
