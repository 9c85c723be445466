// linear: ops::linear (katachi/ops/linear.hpp) through the eager adaptor. x [*, in]; a 1-d x is
// one sample.
#include "katachi/ops/linear.hpp"

#include "katachi/eager/functional/layers.hpp"
#include "op_apply.hpp"

namespace katachi::eager {

template <class T>
basic_tensor<T> linear(const basic_tensor<T>& x, const basic_tensor<T>& w, const basic_tensor<T>& b) {
    if (w.dim() != 2)
        throw shape_mismatch("linear: the weight has shape " + w.shape().str() + ", expected [out, in]");
    if (b.defined() && !(b.shape() == sizes{w.size(0)}))
        throw shape_mismatch("linear: the bias has shape " + b.shape().str() + ", expected [" +
                             std::to_string(w.size(0)) + "]");
    if (x.dim() == 0 || x.size(-1) != w.size(1))
        throw shape_mismatch(detail::shapes_text("linear", x.shape(), w.shape(),
                                                 "do not fit: the input's last size must equal the "
                                                 "weight's second (in_features)"));
    const ops::linear_options o{.in_features = w.size(1), .out_features = w.size(0), .bias = b.defined()};
    if (x.dim() == 1) {
        const basic_tensor<T> y = detail::apply<ops::linear, T, 1>(o, {x.reshape({1, -1})}, {w, b}, {});
        return y.reshape({std::ptrdiff_t(w.size(0))});
    }
    return detail::apply<ops::linear, T, 1>(o, {x}, {w, b}, {});
}

template basic_tensor<float> linear(const basic_tensor<float>&, const basic_tensor<float>&,
                                    const basic_tensor<float>&);
template basic_tensor<double> linear(const basic_tensor<double>&, const basic_tensor<double>&,
                                     const basic_tensor<double>&);

}  // namespace katachi::eager
