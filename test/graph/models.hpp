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

}  // namespace katachi::test::models
