// examples/embedded/flash_demo.cpp: katachi's graph face on the Cortex-M7 the way a device runs it:
// a graph::flash_model of the same tiny MLP as katachi_demo.cpp (4 -> 16 -> relu -> 3), its weights
// a constant array in flash, its arena the only RAM it takes. No xtensor on this path.
// run_qemu.py --check katachi computes the same outputs on the host.
#include "runtime.hpp"

#include <array>
#include <cstddef>
#include <katachi/graph/flash_model.hpp>
#include <katachi/graph/layers/linear.hpp>
#include <katachi/graph/layers/relu.hpp>
#include <katachi/graph/sequential.hpp>
#include <span>

namespace {

using namespace katachi::graph;
using tiny_mlp = sequential<input<4>, linear<16>, relu, linear<3>>;

// Parameters in katachi's (PyTorch's) order: weight [16, 4], bias [16], weight [3, 16], bias [3];
// computed at compile time, so they are read-only data in flash.
constexpr std::array<float, tiny_mlp::parameter_count> weights = [] {
    std::array<float, tiny_mlp::parameter_count> w{};
    for (std::size_t i = 0; i < w.size(); ++i)
        w[i] = static_cast<float>(static_cast<int>(i * 37 % 23) - 11) / 16.0f;
    return w;
}();
constexpr std::array<float, tiny_mlp::buffer_count> buffers{};

// katachi's failures end here (the image is built without exceptions).
[[noreturn]] void on_error(const char* message) noexcept {
    device::line() << "FAIL: katachi: " << message;
    device::exit(6);
}

}  // namespace

int main() {
    katachi::set_error_handler(on_error);
    static flash_model<tiny_mlp, float, 2> net{std::span<const float, tiny_mlp::parameter_count>(weights),
                                               std::span<const float, tiny_mlp::buffer_count>(buffers)};
    device::line() << "parameters: " << static_cast<unsigned>(weights.size()) << " in flash, model "
                   << static_cast<unsigned>(sizeof net) << " bytes of RAM";

    const std::array<float, 8> x = {1.0f, -0.5f, 0.25f, 2.0f, -1.0f, 0.75f, 1.5f, -0.25f};
    const std::span<const float> y = net.forward(x.data(), 2);
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t o = 0; o < 3; ++o)
            device::line() << "y[" << static_cast<unsigned>(n) << "][" << static_cast<unsigned>(o)
                           << "] = " << y[n * 3 + o];
    return 0;
}
