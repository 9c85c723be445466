// Mistake: a kernel larger than its padded input. Allowed twin: padding makes room.
// expect: conv2d<8, 5>
// expect: shape<1, 3, 3>
// expect-first-error: node \"0\", conv2d<8, 5>: the dilated kernel is larger than the padded input in height (input 3, kernel 5, stride 1, padding 0, dilation 1): use a smaller kernel or more padding
#include <katachi/graph.hpp>

using namespace katachi::graph;

#ifdef KATACHI_FORBIDDEN
using net = sequential<input<1, 3, 3>, conv2d<8, 5>>;
#else
using net = sequential<input<1, 3, 3>, conv2d<8, 5, padding<1>>>;
#endif

[[maybe_unused]] constexpr std::size_t count = net::parameter_count;
