// test/graph/models.hpp: the models the graph tests share, written as a user would.
#pragma once

#include <katachi/graph.hpp>

namespace katachi::test::models {

using namespace katachi::graph;

using lenet =
    sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, relu, max_pool2d<2>, conv2d<64, 3, padding<1>>,
               relu, max_pool2d<2>, flatten, linear<128>, relu, linear<10>>;

using mlp = sequential<input<784>, linear<256>, relu, linear<128>, relu, linear<10>>;
using tiny_mlp = sequential<input<4>, linear<16>, relu, linear<3>>;
using mlp_bn = sequential<input<20>, linear<32>, batch_norm1d, relu, linear<5>>;

using strided = sequential<input<3, 17, 15>, conv2d<6, 3, stride<2>, padding<1>>, tanh, avg_pool2d<2>,
                           flatten, linear<4>, sigmoid>;

// A ResNet basic block with a head, under the names PyTorch's module uses.
using resblock =
    dag<input<8, 9, 7>, node<"conv1", conv2d<8, 3, padding<1>, bias<false>>>, node<"bn1", batch_norm2d>,
        node<"relu1", relu>, node<"conv2", conv2d<8, 3, padding<1>, bias<false>>>, node<"bn2", batch_norm2d>,
        node<"sum", add, from<"bn2", "input">>, node<"relu2", relu>, node<"pool", adaptive_avg_pool2d<1>>,
        node<"flat", flatten>, node<"fc", linear<3>>>;

// A ResNet basic block, defined once and placed twice under distinct names.
template <std::size_t C>
using basic_block =
    block<node<"conv1", conv2d<C, 3, padding<1>, bias<false>>>, node<"bn1", batch_norm2d>,
          node<"relu1", relu>, node<"conv2", conv2d<C, 3, padding<1>, bias<false>>>,
          node<"bn2", batch_norm2d>, node<"sum", add, from<"bn2", "input">>, node<"relu2", relu>>;

template <std::size_t C, std::size_t H, std::size_t W>
using small_resnet = dag<input<3, H, W>, node<"stem", conv2d<C, 3, padding<1>>>,
                         node<"layer1", basic_block<C>>, node<"layer2", basic_block<C>>,
                         node<"pool", adaptive_avg_pool2d<1>>, node<"flat", flatten>, node<"fc", linear<10>>>;

// The options both faces take from one op definition (test/data/fixtures_vocabulary.py): layer norm
// with and without its affine parameters, batch norm with eps, momentum None, no affine and no
// running statistics, pooling with ceil_mode and count_include_pad.
using norms = sequential<
    input<2, 6, 5>, conv2d<4, 3, padding<1>>, layer_norm<4, 6, 5>, relu, max_pool2d<3, stride<2>, ceil_mode<true>>,
    layer<ops::batch_norm2d, ops::batch_norm_options{.eps = 1e-3, .momentum = std::nullopt}>, tanh,
    avg_pool2d<2, stride<1>, padding<1>, ceil_mode<true>, count_include_pad<false>>,
    layer<ops::batch_norm2d, ops::batch_norm_options{.affine = false}>, flatten, linear<16, bias<false>>,
    layer<ops::batch_norm1d, ops::batch_norm_options{.track_running_stats = false}>,
    layer<ops::layer_norm, ops::layer_norm_options{.normalized_shape = 16, .elementwise_affine = false}>,
    linear<3>>;

}  // namespace katachi::test::models
