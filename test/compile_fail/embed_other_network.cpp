// Mistake: baking in a checkpoint of another architecture (a linear layer's weight [3, 2] where the
// network has [2, 3]). Allowed twin: the checkpoint of this network.
// expect: a_tensor_of_the_checkpoint_has_another_shape_than_the_network_gives_it
#include <katachi/graph.hpp>

using namespace katachi::graph;

using net = sequential<input<3>, linear<2>, relu, linear<1>>;

#ifdef KATACHI_FORBIDDEN
inline constexpr embedded_tensor tensors[] = {
    {"0.weight", 2, {3, 2}, 0}, {"0.bias", 1, {2}, 6}, {"2.weight", 2, {1, 2}, 8}, {"2.bias", 1, {1}, 10}};
#else
inline constexpr embedded_tensor tensors[] = {
    {"0.weight", 2, {2, 3}, 0}, {"0.bias", 1, {2}, 6}, {"2.weight", 2, {1, 2}, 8}, {"2.bias", 1, {1}, 10}};
#endif
inline constexpr float values[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
inline constexpr embedded_checkpoint<float> checkpoint{tensors, 4, values, 11};

constexpr auto weights = embed<net>(checkpoint);
static_assert(weights.parameters[8] == 9.0f);
