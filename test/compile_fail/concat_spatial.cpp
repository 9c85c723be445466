// Mistake: concat of inputs whose spatial sizes differ. Allowed twin: the pooled branch is padded.
// expect: katachi::graph::concat
// expect: shape<3, 8, 8>
// expect-first-error: node \"cat\", concat: joins along the channels, got [3, 8, 8] and [3, 4, 4]: every input needs the same rank
#include <katachi/graph.hpp>

using namespace katachi::graph;

#ifdef KATACHI_FORBIDDEN
using pool = max_pool2d<2>;
#else
using pool = max_pool2d<3, stride<1>, padding<1>>;
#endif

using net = dag<input<3, 8, 8>, node<"pooled", pool>, node<"cat", concat, from<"input", "pooled">>>;

[[maybe_unused]] constexpr std::size_t count = net::parameter_count;
