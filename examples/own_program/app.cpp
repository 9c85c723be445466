// A program of your own against an installed katachi: a small graph-face classifier trained for a
// few steps, then its predictions. Build it either way (README.md, "Building your own program"):
//
//   c++ -std=c++20 -O2 app.cpp $(pkg-config --cflags --libs katachi) -o app
//   meson setup build && meson compile -C build      (this folder's meson.build)
#include <cstdint>
#include <cstdio>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <xtensor/xtensor.hpp>

namespace g = katachi::graph;

// Two features in, three classes out: linear<3>'s input width is deduced from linear<16>.
using classifier = g::sequential<g::input<2>, g::linear<16>, g::relu, g::linear<3>>;

int main() {
    // Three points per class, one class per corner.
    const xt::xtensor<float, 2> x = {{0.0f, 0.1f}, {0.1f, 0.0f}, {0.1f, 0.1f},  // class 0
                                     {1.0f, 0.9f}, {0.9f, 1.0f}, {1.0f, 1.0f},  // class 1
                                     {0.0f, 1.0f}, {0.1f, 0.9f}, {0.1f, 1.0f}};
    const xt::xtensor<std::int64_t, 1> y = {0, 0, 0, 1, 1, 1, 2, 2, 2};

    g::model<classifier> m(/*seed=*/0);
    katachi::optim::sgd<float> opt(m.parameters(), {.lr = 0.1, .momentum = 0.9});
    float first = 0, last = 0;
    for (int step = 0; step < 40; ++step) {
        m.forward(x);
        last = m.cross_entropy(y);
        if (step == 0) first = last;
        m.backward();
        opt.step();
    }
    std::printf("loss %.4f -> %.4f\n", first, last);

    const auto logits = m.forward(x);
    std::printf("predicted:");
    for (std::size_t i = 0; i < y.size(); ++i) {
        std::size_t best = 0;
        for (std::size_t c = 1; c < 3; ++c)
            if (logits(i, c) > logits(i, best)) best = c;
        std::printf(" %zu", best);
    }
    std::printf("\n");
    return last < first ? 0 : 1;
}
