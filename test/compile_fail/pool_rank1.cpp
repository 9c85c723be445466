// Mistake: pooling a rank-1 input. Allowed twin: the pooling comes before flatten.
// expect: this 2-d layer takes shape<channels, height, width>
// expect: max_pool2d<2>
// expect: shape<64>
// expect: image_shape
#include <katachi/graph.hpp>

using namespace katachi::graph;

#ifdef KATACHI_FORBIDDEN
using net = sequential<input<4, 4, 4>, flatten, max_pool2d<2>, linear<3>>;
#else
using net = sequential<input<4, 4, 4>, max_pool2d<2>, flatten, linear<3>>;
#endif

[[maybe_unused]] constexpr std::size_t count = net::parameter_count;
