// Mistake: add of two different shapes. Allowed twin: both branches keep the channel count.
// expect: katachi::graph::add
// expect: shape<4, 9, 7>
// expect-first-error: node \"sum\", add: takes inputs of one shape, got [4, 9, 7] and [8, 9, 7]: make both branches end in the same shape
#include <katachi/graph.hpp>

using namespace katachi::graph;

#ifdef KATACHI_FORBIDDEN
using branch = conv2d<4, 3, padding<1>>;
#else
using branch = conv2d<8, 3, padding<1>>;
#endif

using net = dag<input<8, 9, 7>, node<"conv", branch>, node<"sum", add, from<"conv", "input">>>;

[[maybe_unused]] constexpr std::size_t count = net::parameter_count;
