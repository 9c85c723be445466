// katachi/eager/dot.hpp: Graphviz DOT of the eager face's recorded tape (the graph face's is
// katachi/graph/dot.hpp).
//
// to_dot(root, model) draws the tape that made `root` (a loss, usually), as recorded by the
// forward that made it: one box per operation node, labelled with the operation's name and, on a
// second line, the path of the module whose call made it ("conv2d" over "features.0"; ops made
// outside any module call, such as the loss, have no second line); one ellipse per leaf the tape
// reaches, a parameter labelled with its path in the model and its shape ("0.weight" over
// "[32, 1, 3, 3]"); an arrow from each input to the operation that used it, in the direction the
// forward ran. A node reached along several paths is drawn once.
//
// Node ids: ops are op0, op1, ... in the order a depth-first walk from the root meets them (op0
// is the root's); a parameter's id is its quoted path ("\"0.weight\""); any other leaf that
// requires grad is leaf0, leaf1, ... Modules are known by their calls: a child called through
// operator() or a container names its ops; one whose forward is called directly counts as part
// of its caller. Without a model, ops have no module line and leaves are named leaf0, leaf1, ...
//
// Needs a tape: call it before backward() frees it (or run backward with retain_graph). A root
// without a tape (a leaf, or made under no_grad) gives a graph of no nodes.
#pragma once

#include <string>

#include "katachi/eager/tensor.hpp"

namespace katachi::eager {

namespace nn {
class module;
}

std::string to_dot(const tensor& root, const nn::module& model);
std::string to_dot(const tensor& root);

}  // namespace katachi::eager
