// katachi/eager/graph_source.hpp: from an eager prototype to a compile-time model.
//
//   nn::sequential model(nn::lazy_conv2d({.out_channels = 32, .kernel_size = 3, .padding = 1}),
//                        nn::relu(), nn::max_pool2d(), nn::flatten(), nn::lazy_linear({.out_features = 10}));
//   model(x);                                             // materialised by a forward (or materialize)
//   std::ofstream("lenet.hpp") << nn::graph_source(model, {1, 28, 28}, {.name = "lenet"});
//
// writes a header with the graph face's type of the same model,
//
//   using lenet = katachi::graph::sequential<katachi::graph::input<1, 28, 28>,
//       katachi::graph::conv2d<32, 3, katachi::graph::padding<1>>, katachi::graph::relu, ...>;
//
// and its state-dict key mapping (lenet_state_dict_keys: each eager key and the graph face's key
// for it), so graph::load(m, path) reads the eager model's checkpoint. A sequential of layers
// becomes a graph::sequential; nested sequentials and custom modules become a graph::dag whose
// node names are the eager modules' paths ("features.0"), so the keys are the eager keys.
//
// nn::residual (container.hpp) becomes its add. A custom module is taken when it declares its
// forward with module::graph_form(): a small DAG of its children joined by add or concat. Anything the graph
// face cannot express throws graph_source_error naming the module's path and why: a module type with no graph
// layer (softmax), an option with no graph spelling (batch norm's eps, a non-square kernel, ceil_mode), a
// lazy module not yet materialised, a custom module without graph_form().
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "katachi/eager/modules/module.hpp"
#include "katachi/eager/sizes.hpp"
#include "katachi/eager/tensor.hpp"

namespace katachi::eager::nn {

class graph_source_error : public std::runtime_error {
public:
    graph_source_error(std::string path, const std::string& what)
        : std::runtime_error(what), path_(std::move(path)) {}
    // The module's path in the tree ("features.3"); empty for the root module.
    const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
};

struct graph_source_options {
    std::string name = "model";  // the alias: using <name> = ...; also prefixes the key table
    std::string name_space{};    // the namespace of the alias ("" : the global namespace)
};

// A state-dict key in the eager face and the graph face.
struct graph_key {
    std::string eager, graph;
};

// The graph face's type of a model (spelled with katachi::graph::), its keys and its output shape.
struct graph_translation {
    std::string type;
    std::vector<graph_key> keys;
    sizes output_shape;  // per sample
    bool keys_identical() const;
};

// The translation of a materialised model for a per-sample input shape ({1, 28, 28}).
graph_translation graph_translate(const module& model, const sizes& input_shape);

// The header's source: the alias, the key mapping, and how to load the eager checkpoint.
std::string graph_source(const module& model, const sizes& input_shape,
                         const graph_source_options& options = {});

// Checks the promise a custom module's graph_form() makes, for one input: runs the declared steps
// eagerly (its children's forwards, add) and forward(x), in evaluation mode (restored after) and
// without the tape, and throws graph_source_error when they differ by more than `tolerance`
// (max abs). The module must be materialised.
void check_graph_form(module& m, const tensor& x, double tolerance = 1e-6);

}  // namespace katachi::eager::nn
