// Mistake: baking in a checkpoint that holds more values than the network has (a wider layer's).
// Allowed twin: the checkpoint of this network.
// expect: the_checkpoint_holds_values_the_network_does_not_have
#include <katachi/graph.hpp>

using namespace katachi::graph;

using net = sequential<input<3>, linear<2>>;

#ifdef KATACHI_FORBIDDEN
inline constexpr embedded_tensor tensors[] = {{"0.weight", 2, {4, 3}, 0}, {"0.bias", 1, {4}, 12}};
inline constexpr float values[16] = {};
inline constexpr embedded_checkpoint<float> checkpoint{tensors, 2, values, 16};
#else
inline constexpr embedded_tensor tensors[] = {{"0.weight", 2, {2, 3}, 0}, {"0.bias", 1, {2}, 6}};
inline constexpr float values[8] = {};
inline constexpr embedded_checkpoint<float> checkpoint{tensors, 2, values, 8};
#endif

constexpr auto weights = embed<net>(checkpoint);
static_assert(weights.parameters.size() == 8);
