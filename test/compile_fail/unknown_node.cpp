// Mistake: a node consuming a node that does not exist. Allowed twin: it names one that does.
// expect: this node consumes a node that does not exist
// expect: consumes_unknown_node
// expect-gcc: {"sum"}
// expect-gcc: {"conv9"}
#include <katachi/graph.hpp>

using namespace katachi::graph;

#ifdef KATACHI_FORBIDDEN
using net =
    dag<input<4, 8, 8>, node<"conv1", conv2d<4, 3, padding<1>>>, node<"sum", add, from<"conv1", "conv9">>>;
#else
using net =
    dag<input<4, 8, 8>, node<"conv1", conv2d<4, 3, padding<1>>>, node<"sum", add, from<"conv1", "input">>>;
#endif

[[maybe_unused]] constexpr std::size_t count = net::parameter_count;
