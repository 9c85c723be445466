// dropout: katachi/ops/dropout.hpp through the eager adaptor; outside training (or with p = 0) the
// input itself, as PyTorch returns it.
#include "../support.hpp"
#include "katachi/eager/functional/layers.hpp"
#include "katachi/eager/random.hpp"
#include "katachi/ops/dropout.hpp"
#include "op_apply.hpp"

namespace katachi::eager {

template <class T>
basic_tensor<T> dropout(const basic_tensor<T>& x, double p, bool training, generator* gen) {
    const ops::dropout_options o{.p = p};
    const ops::rule r = ops::dropout::output_shape(o, ops::dims{});  // the op's sentence for a bad p
    if (!r.ok()) throw std::invalid_argument(std::string("dropout: ") + std::string(r.why.view()));
    if (!training || p == 0.0) return x;
    return detail::apply<ops::dropout, T, 1>(o, {x}, {}, {}, {.training = true, .gen = gen ? gen : &default_generator()});
}

template basic_tensor<float> dropout(const basic_tensor<float>&, double, bool, generator*);
template basic_tensor<double> dropout(const basic_tensor<double>&, double, bool, generator*);

}  // namespace katachi::eager
