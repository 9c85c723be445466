// Mistake: a kernel larger than its padded input. Allowed twin: padding makes room.
// expect: the kernel is larger than the padded input
// expect: conv2d<8, 5>
// expect: shape<1, 3, 3>
// expect: padded_input_at_least<5, 5>
#include <katachi/graph.hpp>

using namespace katachi::graph;

#ifdef KATACHI_FORBIDDEN
using net = sequential<input<1, 3, 3>, conv2d<8, 5>>;
#else
using net = sequential<input<1, 3, 3>, conv2d<8, 5, padding<1>>>;
#endif

[[maybe_unused]] constexpr std::size_t count = net::parameter_count;
