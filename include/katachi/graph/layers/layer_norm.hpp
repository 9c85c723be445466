// katachi/graph/layers/layer_norm.hpp: layer_norm<Sizes...> normalises the trailing per-sample
// sizes Sizes... together: layer_norm<128> after a linear<128>, layer_norm<64, 7, 7> over whole
// samples. The op is katachi/ops/layer_norm.hpp (PyTorch's nn.LayerNorm: weight 1 and bias 0 of
// shape [Sizes...], eps 1e-5); other options go through layer<ops::layer_norm, {...}>.
#pragma once

#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/op_layer.hpp>
#include <katachi/ops/layer_norm.hpp>

namespace katachi::graph {

template <std::size_t... Sizes>
struct layer_norm : basic_layer<layer_norm<Sizes...>, ops::layer_norm,
                                ops::layer_norm_options{.normalized_shape = {Sizes...}}> {
    static_assert(sizeof...(Sizes) >= 1 && sizeof...(Sizes) <= 4,
                  "layer_norm<Sizes...> normalises one to four trailing sizes");
};

}  // namespace katachi::graph
