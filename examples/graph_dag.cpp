// A residual network in the graph face: a DAG of named nodes, each reading the node before it or the
// ones its from<...> names. Its shapes, parameter count and summary are known at compile time; a
// training step is forward, loss, the generated backward and an optimiser step.
#include <cstdio>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <xtensor/xrandom.hpp>

using namespace katachi::graph;

using net = dag<input<3, 16, 16>,                                                   //
                node<"stem", conv2d<16, 3, padding<1>, bias<false>>>, node<"bn0", batch_norm2d>,
                node<"relu0", relu>,                                                //
                node<"conv1", conv2d<16, 3, padding<1>, bias<false>>>, node<"bn1", batch_norm2d>,
                node<"relu1", relu>,                                                //
                node<"conv2", conv2d<16, 3, padding<1>, bias<false>>>, node<"bn2", batch_norm2d>,
                node<"sum", add, from<"bn2", "relu0">>,  // the skip connection
                node<"relu2", relu>, node<"pool", adaptive_avg_pool2d<1>>, node<"flat", flatten>,
                node<"fc", linear<10>>>;
static_assert(net::output_shape{} == katachi::shape<10>{});

int main() {
    std::printf("%s\n", summary<net>().c_str());  // layers, output shapes, parameters: "sum" is [16, 16, 16]
    model<net> m(/*seed=*/0);
    katachi::optim::sgd<float> opt(m.parameters(), {.lr = 0.05, .momentum = 0.9});
    const xt::xtensor<float, 4> x = xt::random::randn<float>({8, 3, 16, 16}, 0.0f, 1.0f);
    const xt::xtensor<std::int64_t, 1> y = {0, 1, 2, 3, 4, 5, 6, 7};
    float first = 0, last = 0;
    for (int step = 0; step < 20; ++step) {
        m.forward(x);
        last = m.cross_entropy(y);
        if (step == 0) first = last;
        m.backward();
        opt.step();
    }
    std::printf("loss %.3f -> %.3f after 20 steps on one batch\n", first, last);
    return last < first ? 0 : 1;
}
