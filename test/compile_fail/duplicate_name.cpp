// Mistake: two nodes with one name. Allowed twin: distinct names.
// expect: two nodes share this name: give every node of a graph its own name
// expect: duplicate_node_name
// expect-gcc: {"conv1"}
#include <katachi/graph.hpp>

using namespace katachi::graph;

#ifdef KATACHI_FORBIDDEN
using net = dag<input<3, 8, 8>, node<"conv1", conv2d<4, 3>>, node<"conv1", conv2d<4, 3>>>;
#else
using net = dag<input<3, 8, 8>, node<"conv1", conv2d<4, 3>>, node<"conv2", conv2d<4, 3>>>;
#endif

[[maybe_unused]] constexpr std::size_t count = net::parameter_count;
