// Step 1 (eager face): prototype with lazy modules, then write the model's graph-face type.
#include <fstream>
#include <katachi/eager.hpp>

namespace eager = katachi::eager;
namespace nn = katachi::eager::nn;

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : ".";
    nn::sequential model(nn::lazy_conv2d({.out_channels = 8, .kernel_size = 3, .padding = 1}), nn::relu(),
                         nn::max_pool2d(), nn::flatten(), nn::lazy_linear({.out_features = 10}));
    model(eager::randn({4, 1, 28, 28}));  // the first forward fixes every input size
    nn::save(model, dir + "/tiny.safetensors");
    std::ofstream(dir + "/tiny.hpp") << nn::graph_source(model, {1, 28, 28}, {.name = "tiny"});
}
