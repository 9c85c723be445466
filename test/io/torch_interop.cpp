// Suite `io`: katachi's side of test/io/test_torch_safetensors.py, which runs PyTorch and
// tools/torch_safetensors.py around it. Two commands, run in a folder the script prepared:
//
//   torch_interop copy IN.safetensors OUT.safetensors
//       reads a file the tool exported with katachi's reader and writes its tensors back with
//       katachi's writer (the script imports OUT into PyTorch and compares).
//   torch_interop models DIR
//       in DIR: loads lenet.safetensors and mlp.safetensors (PyTorch-trained, exported by the tool)
//       into a graph model and an eager module each and writes their evaluation logits on
//       inputs.safetensors to katachi_logits.safetensors; then trains each model two steps in each
//       face from katachi's own initialisation and saves katachi_<model>_<face>.safetensors, with
//       the logits of those models in katachi_logits.safetensors too.
//
// The blocks between "// doc:<name>" and "// doc:end" are quoted in docs/pytorch.md, which the
// script checks word for word.
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <katachi/katachi.hpp>
#include <katachi/optim/sgd.hpp>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace {

namespace g = katachi::graph;
namespace nn = katachi::eager::nn;
namespace io = katachi::io;

// doc:graph-lenet
using lenet = g::sequential<g::input<1, 28, 28>,                                         //
                            g::conv2d<32, 3, g::padding<1>>, g::relu, g::max_pool2d<2>,  //
                            g::conv2d<64, 3, g::padding<1>>, g::relu, g::max_pool2d<2>,  //
                            g::flatten, g::linear<128>, g::relu, g::linear<10>>;
// doc:end
using mlp = g::sequential<g::input<20>, g::linear<32>, g::batch_norm1d, g::relu, g::linear<5>>;

std::shared_ptr<nn::sequential> eager_lenet() {
    return std::make_shared<nn::sequential>(
        nn::lazy_conv2d({.out_channels = 32, .kernel_size = 3, .padding = 1}), nn::relu(), nn::max_pool2d(),
        nn::lazy_conv2d({.out_channels = 64, .kernel_size = 3, .padding = 1}), nn::relu(), nn::max_pool2d(),
        nn::flatten(), nn::lazy_linear({.out_features = 128}), nn::relu(), nn::lazy_linear({.out_features = 10}));
}

std::shared_ptr<nn::sequential> eager_mlp() {
    return std::make_shared<nn::sequential>(nn::lazy_linear({.out_features = 32}), nn::lazy_batch_norm1d(),
                                            nn::relu(), nn::lazy_linear({.out_features = 5}));
}

katachi::eager::tensor to_eager(const xt::xarray<float>& x) {
    return katachi::eager::tensor::from(std::vector<float>(x.begin(), x.end()),
                                        katachi::eager::sizes(x.shape().begin(), x.shape().end()));
}

io::tensor to_io(const katachi::eager::tensor& t) {
    const auto values = t.to_vector();
    return io::tensor::from<float>(values, std::vector<std::size_t>(t.shape().begin(), t.shape().end()));
}

// The graph face's logits of a PyTorch-trained LeNet.
io::tensor graph_logits_of_pytorch_lenet(const xt::xarray<float>& images) {
    // doc:graph-load
    g::model<lenet> net;
    g::load(net, "lenet.safetensors");  // PyTorch's keys "0.weight" ... "9.bias"; strict
    net.eval();
    const auto logits = net.forward(images);  // images: xt::xarray<float> of shape [N, 1, 28, 28]
    // doc:end
    return io::tensor::from_xt(logits);
}

// The eager face's logits of the same file.
io::tensor eager_logits_of_pytorch_lenet(const xt::xarray<float>& x) {
    const auto images = to_eager(x);
    // doc:eager-load
    nn::sequential net(
        nn::lazy_conv2d({.out_channels = 32, .kernel_size = 3, .padding = 1}), nn::relu(), nn::max_pool2d(),
        nn::lazy_conv2d({.out_channels = 64, .kernel_size = 3, .padding = 1}), nn::relu(), nn::max_pool2d(),
        nn::flatten(), nn::lazy_linear({.out_features = 128}), nn::relu(), nn::lazy_linear({.out_features = 10}));
    nn::load(net, "lenet.safetensors");  // materialises every lazy layer from the file's shapes; strict
    net.eval();
    const auto logits = net(images);  // images: eager::tensor of shape [N, 1, 28, 28]
    // doc:end
    return to_io(logits);
}

template <class Net>
io::tensor graph_logits(const std::string& file, const xt::xarray<float>& x) {
    g::model<Net> net;
    g::load(net, file);
    net.eval();
    return io::tensor::from_xt(net.forward(x));
}

io::tensor eager_logits(nn::module& net, const std::string& file, const xt::xarray<float>& x) {
    nn::load(net, file);
    net.eval();
    return to_io(net(to_eager(x)));
}

// A graph model from katachi's initialisation after two SGD steps in training mode, in evaluation
// mode; and its logits.
template <class Net>
std::unique_ptr<g::model<Net>> graph_trained(const xt::xarray<float>& x, const xt::xarray<std::int64_t>& y,
                                             std::uint64_t seed, io::tensor& logits) {
    auto net = std::make_unique<g::model<Net>>(seed);
    katachi::optim::sgd<float> opt(net->parameters(), {.lr = 0.05, .momentum = 0.9});
    for (int step = 0; step < 2; ++step) {
        net->forward(x);
        (void)net->cross_entropy(y);
        net->backward();
        opt.step();
    }
    net->eval();
    logits = io::tensor::from_xt(net->forward(x));
    return net;
}

// The same in the eager face, from lazy modules.
std::shared_ptr<nn::module> eager_trained(std::shared_ptr<nn::module> net, const xt::xarray<float>& x,
                                          const xt::xarray<std::int64_t>& y, io::tensor& logits) {
    const auto images = to_eager(x);
    const std::vector<std::int64_t> labels(y.begin(), y.end());
    net->train();
    (void)(*net)(images);  // materialises the lazy modules before the optimiser takes their parameters
    katachi::optim::sgd<float> opt(nn::optimiser_parameters(*net), {.lr = 0.05, .momentum = 0.9});
    for (int step = 0; step < 2; ++step) {
        const auto loss = katachi::eager::cross_entropy((*net)(images), std::span<const std::int64_t>(labels));
        loss.backward();
        opt.step();
        opt.zero_grad();
    }
    net->eval();
    logits = to_io((*net)(images));
    return net;
}

int models(const std::filesystem::path& dir) {
    std::filesystem::current_path(dir);
    const io::safetensors_file inputs = io::load_safetensors("inputs.safetensors");
    const auto lenet_x = inputs.get<float>("lenet.input");
    const auto mlp_x = inputs.get<float>("mlp.input");
    const auto lenet_y = inputs.get<std::int64_t>("lenet.target");
    const auto mlp_y = inputs.get<std::int64_t>("mlp.target");

    // From PyTorch.
    io::tensor_map out;
    out["pytorch_lenet.graph"] = graph_logits_of_pytorch_lenet(lenet_x);
    out["pytorch_lenet.eager"] = eager_logits_of_pytorch_lenet(lenet_x);
    out["pytorch_mlp.graph"] = graph_logits<mlp>("mlp.safetensors", mlp_x);
    out["pytorch_mlp.eager"] = eager_logits(*eager_mlp(), "mlp.safetensors", mlp_x);

    // To PyTorch.
    katachi::eager::manual_seed(11);
    {
        const auto trained = graph_trained<lenet>(lenet_x, lenet_y, 3, out["katachi_lenet.graph"]);
        auto& net = *trained;
        // doc:graph-save
        g::save(net, "katachi_lenet_graph.safetensors");  // PyTorch's keys "0.weight" ... "9.bias"
        // doc:end
    }
    {
        const auto trained = eager_trained(eager_lenet(), lenet_x, lenet_y, out["katachi_lenet.eager"]);
        nn::module& net = *trained;
        // doc:eager-save
        nn::save(net, "katachi_lenet_eager.safetensors");  // the same keys from the eager face
        // doc:end
    }
    g::save(*graph_trained<mlp>(mlp_x, mlp_y, 5, out["katachi_mlp.graph"]), "katachi_mlp_graph.safetensors");
    nn::save(*eager_trained(eager_mlp(), mlp_x, mlp_y, out["katachi_mlp.eager"]), "katachi_mlp_eager.safetensors");
    io::save_safetensors("katachi_logits.safetensors", out);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::vector<std::string> args(argv + 1, argv + argc);
        if (args.size() == 3 && args[0] == "copy") {
            const io::safetensors_file in = io::load_safetensors(args[1]);
            io::save_safetensors(args[2], in.tensors, in.metadata);
            return 0;
        }
        if (args.size() == 2 && args[0] == "models") return models(args[1]);
        std::fprintf(stderr, "usage: torch_interop copy IN.safetensors OUT.safetensors | torch_interop models DIR\n");
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "torch_interop: %s\n", e.what());
        return 1;
    }
}
