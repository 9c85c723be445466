// Builds the bridge tests' lazy eager models, materialises them with a forward (training mode, so
// batch norm's running statistics move), and writes for each, into OUTDIR:
//   <name>.hpp             nn::graph_source's header, the model's graph-face type
//   <name>.safetensors     the eager checkpoint
//   <name>_io.safetensors  an example input and the eager logits for it, in evaluation mode
//
//   make_bridge_models OUTDIR
#include <filesystem>
#include <fstream>
#include <iostream>
#include <katachi/eager.hpp>

#include "eager_models.hpp"

namespace eager = katachi::eager;
namespace nn = katachi::eager::nn;
namespace bridge = katachi::test::bridge;

namespace {

katachi::io::tensor to_io(const eager::tensor& t) {
    const std::vector<float> v = t.contiguous().to_vector();
    return katachi::io::tensor::from<float>(v, std::vector<std::size_t>(t.shape().begin(), t.shape().end()));
}

void write(const std::filesystem::path& dir, const std::string& name, nn::module& model,
           eager::sizes sample) {
    eager::sizes batch{8};
    for (std::size_t d : sample) batch.push_back(d);
    model.train();
    for (int step = 0; step < 3; ++step) model(eager::randn(batch));  // materialises, moves running stats
    model.eval();
    const eager::tensor x = eager::randn(batch);
    eager::tensor logits;
    {
        eager::no_grad guard;
        logits = model(x);
    }
    nn::save(model, dir / (name + ".safetensors"));
    katachi::io::save_safetensors(dir / (name + "_io.safetensors"),
                                  {{"input", to_io(x)}, {"logits", to_io(logits)}});
    std::ofstream(dir / (name + ".hpp"))
        << nn::graph_source(model, sample, {.name = name, .name_space = "emitted"});
}

}  // namespace

int main(int argc, char** argv) try {
    if (argc != 2) {
        std::cerr << "usage: make_bridge_models OUTDIR\n";
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    eager::manual_seed(7);
    write(dir, "lenet", *bridge::lenet(), {1, 28, 28});
    write(dir, "mlp_bn", *bridge::mlp_bn(), {20});
    write(dir, "residual", *bridge::residual(), {3, 16, 16});
    write(dir, "options_net", *bridge::options_net(), {4, 15, 13});
    write(dir, "resnet", *bridge::resnet(), {3, 12, 12});
    write(dir, "norms_net", *bridge::norms_net(), {2, 9, 9});
    return 0;
} catch (const std::exception& e) {
    std::cerr << "make_bridge_models: " << e.what() << '\n';
    return 1;
}
