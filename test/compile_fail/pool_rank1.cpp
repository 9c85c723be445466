// Mistake: pooling a rank-1 input. Allowed twin: the pooling comes before flatten.
// expect: max_pool2d<2>
// expect: shape<64>
// expect-first-error: node \"1\", max_pool2d<2>: takes a per-sample [C, H, W], got [64]: remove the flatten before it
#include <katachi/graph.hpp>

using namespace katachi::graph;

#ifdef KATACHI_FORBIDDEN
using net = sequential<input<4, 4, 4>, flatten, max_pool2d<2>, linear<3>>;
#else
using net = sequential<input<4, 4, 4>, max_pool2d<2>, flatten, linear<3>>;
#endif

[[maybe_unused]] constexpr std::size_t count = net::parameter_count;
