// Mistake: a layer norm whose normalized_shape is not the input's trailing sizes, in a model alias
// checked where it is declared with valid<>. Allowed twin: the sizes match.
// expect: layer_norm<5, 4>
// expect: shape<4, 5, 5>
// expect-first-error: node \"1\", layer_norm<5, 4>: normalises the last sizes [5, 4] (normalized_shape), got per-sample shape [4, 5, 5]
#include <katachi/graph.hpp>

using namespace katachi::graph;

#ifdef KATACHI_FORBIDDEN
using net = sequential<input<4, 5, 5>, relu, layer_norm<5, 4>, flatten, linear<3>>;
#else
using net = sequential<input<4, 5, 5>, relu, layer_norm<5, 5>, flatten, linear<3>>;
#endif

static_assert(valid<net>);
