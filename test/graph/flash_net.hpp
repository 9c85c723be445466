// test/graph/flash_net.hpp: the network the flash_model tests bake in (make_flash_checkpoint.cpp
// writes its checkpoint, katachi-embed turns it into flash_net_weights.hpp).
#pragma once

#include <katachi/graph.hpp>

namespace katachi::test::models {

using flash_net =
    graph::sequential<graph::input<2, 10, 10>, graph::conv2d<6, 3, graph::padding<1>>, graph::batch_norm2d,
                      graph::relu, graph::max_pool2d<2>, graph::conv2d<8, 3>, graph::relu, graph::flatten,
                      graph::linear<16>, graph::relu, graph::linear<4>>;

}  // namespace katachi::test::models
