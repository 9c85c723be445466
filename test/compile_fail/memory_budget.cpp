// Mistake: a model whose activation arena is larger than the device's budget. Allowed twin: the
// budget it fits in. The diagnostic names what the model needs (arena_bytes<...>) and the budget.
// expect: the model's activation arena does not fit the memory budget
// expect: budget_bytes<4096>
// expect: arena_bytes<
#include <katachi/graph.hpp>

using namespace katachi::graph;

using net = sequential<input<1, 28, 28>, conv2d<8, 3, padding<1>>, relu, max_pool2d<2>, flatten, linear<10>>;
using device_model = flash_model<net, float, 1>;

#ifdef KATACHI_FORBIDDEN
static_assert(fits_budget<device_model, 4096>());
#else
static_assert(fits_budget<device_model, 64 * 1024>());
#endif
