// Step 2 (graph face): the written type is checked at compile time and loads the eager checkpoint.
#include <iostream>
#include <katachi/graph.hpp>

#include "tiny.hpp"  // using tiny = katachi::graph::sequential<katachi::graph::input<1, 28, 28>, ...>;

static_assert(tiny::parameter_count == 8 * 1 * 3 * 3 + 8 + 10 * 8 * 14 * 14 + 10);

int main(int argc, char** argv) {
    katachi::graph::model<tiny> m;
    katachi::graph::load(m, std::string(argc > 1 ? argv[1] : ".") + "/tiny.safetensors");  // the same keys
    m.eval();
    xt::xtensor<float, 4> x = xt::zeros<float>({1, 1, 28, 28});
    const auto logits = m.forward(x);
    std::cout << "class 0's logit for a blank image: " << logits(0, 0) << '\n';
}
