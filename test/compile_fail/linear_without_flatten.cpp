// Mistake: linear after a convolution without flatten. Allowed twin: flatten inserted.
// expect: linear<10>
// expect: shape<64, 7, 7>
// expect-first-error: node \"3\", linear<10>: takes a flat per-sample shape [features], got [64, 7, 7]: insert flatten before it
#include <katachi/graph.hpp>

using namespace katachi::graph;

#ifdef KATACHI_FORBIDDEN
using net = sequential<input<1, 28, 28>, conv2d<64, 3, padding<1>>, relu, max_pool2d<4>, linear<10>>;
#else
using net = sequential<input<1, 28, 28>, conv2d<64, 3, padding<1>>, relu, max_pool2d<4>, flatten, linear<10>>;
#endif

[[maybe_unused]] constexpr std::size_t count = net::parameter_count;
