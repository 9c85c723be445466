// examples/embedded/katachi_demo.cpp: katachi's graph face on the Cortex-M7: a tiny MLP
// (4 -> 16 -> relu -> 3) as a graph::inference_model, its weights set here, run on a batch of two
// samples. Everything is static: the model (weights and arena) is in .bss, nothing is allocated.
// run_qemu.py --check katachi computes the same outputs on the host.
#include "runtime.hpp"

#include <array>
#include <cstddef>
#include <katachi/graph/inference.hpp>
#include <katachi/graph/layers/linear.hpp>
#include <katachi/graph/layers/relu.hpp>
#include <katachi/graph/sequential.hpp>

namespace {

using namespace katachi::graph;
using tiny_mlp = sequential<input<4>, linear<16>, relu, linear<3>>;

// The weights and the arena: 131 parameters and the activations of two samples.
inference_model<tiny_mlp, float, 2> net;

// katachi's failures end here (the image is built without exceptions).
[[noreturn]] void on_error(const char* message) noexcept {
    device::line() << "FAIL: katachi: " << message;
    device::exit(6);
}

}  // namespace

int main() {
    katachi::set_error_handler(on_error);

    // Parameters in katachi's (PyTorch's) order: weight [16, 4], bias [16], weight [3, 16], bias [3].
    const auto w = net.weights();
    for (std::size_t i = 0; i < w.size(); ++i)
        w[i] = static_cast<float>(static_cast<int>(i * 37 % 23) - 11) / 16.0f;
    device::line() << "parameters: " << static_cast<unsigned>(w.size()) << ", model "
                   << static_cast<unsigned>(sizeof net) << " bytes, arena "
                   << static_cast<unsigned>(decltype(net)::arena_bytes) << " bytes";

    std::array<float, 8> x = {1.0f, -0.5f, 0.25f, 2.0f, -1.0f, 0.75f, 1.5f, -0.25f};
    const auto input = fixed_view(x.data(), std::array<std::size_t, 2>{2, 4});
    const auto y = net.forward(input);
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t o = 0; o < 3; ++o)
            device::line() << "y[" << static_cast<unsigned>(n) << "][" << static_cast<unsigned>(o)
                           << "] = " << y(n, o);
    return 0;
}
