// Mistake: a dropout whose probability lies outside [0, 1], in the general form that takes any
// value. Allowed twin: p = 0.5.
// expect: layer<katachi::ops::dropout
// expect: shape<16>
// expect-first-error: node \"1\", dropout(p=1.5): takes a drop probability p in [0, 1], got 1.5
#include <katachi/graph.hpp>

using namespace katachi;
using namespace katachi::graph;

#ifdef KATACHI_FORBIDDEN
constexpr double p = 1.5;
#else
constexpr double p = 0.5;
#endif

using net = sequential<input<8>, linear<16>, layer<ops::dropout, ops::dropout_options{.p = p}>, linear<3>>;

static_assert(valid<net>);
