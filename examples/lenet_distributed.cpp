// The graph face's LeNet trained data-parallel over MPI: `mpirun -np 2 build/examples/lenet_distributed [N]`
// (the first N training images; all by default). Every rank runs this program on its shard.
#include <cstdio>
#include <cstdlib>
#include <katachi/data.hpp>
#include <katachi/distributed.hpp>
#include <katachi/graph.hpp>
#include <katachi/graph/state_dict.hpp>
#include <katachi/io/safetensors.hpp>
#include <katachi/optim/adam.hpp>
#include <string>

namespace data = katachi::data;
namespace distributed = katachi::distributed;
using namespace katachi::graph;

using lenet = sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, relu, max_pool2d<2>,  //
                         conv2d<64, 3, padding<1>>, relu, max_pool2d<2>,                   //
                         flatten, linear<128>, relu, linear<10>>;

int main(int argc, char** argv) {
    distributed::context mpi(argc, argv);  // MPI_Init; MPI_Finalize at the end
    try {
        auto [train, test] = data::fashion_mnist_datasets();
        train.truncate(argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 0);
        const auto norm = data::normalize::fit(train);
        train.map(norm);
        test.map(norm);

        model<lenet> net(/*seed=*/0);
        distributed::data_parallel<model<lenet>> ddp(net);  // every rank starts from rank 0's weights
        katachi::optim::adam<float> opt(net.parameters(), {.lr = 2e-3});
        // Each rank takes its shard of the epoch's shuffle, 64 / ranks images per step.
        data::data_loader loader(train, {.batch_size = 64 / mpi.size(), .shuffle = true, .seed = 1,
                                         .num_replicas = mpi.size(), .rank = mpi.rank()});
        for (const auto& batch : loader) {
            net.forward(batch.input());
            net.cross_entropy(batch.targets());
            ddp.backward();  // the gradients' mean over the ranks, all-reduced during the backward
            opt.step();      // the same step on every rank
        }

        net.eval();
        data::confusion_matrix result(10);  // each rank scores its shard of the test set...
        for (const auto& batch : data::data_loader(test, {.batch_size = 256, .num_replicas = mpi.size(), .rank = mpi.rank()}))
            result.add_logits(net.forward(batch.input()), batch.target_span());
        distributed::all_reduce_sum(result.counts());  // ...and all of them get the whole set's
        if (mpi.rank() == 0) {  // one rank writes
            std::printf("%zu ranks: test accuracy %.4f\n", mpi.size(), result.accuracy());
            katachi::io::save_safetensors("lenet_distributed.safetensors", state_dict(net));
        }
    } catch (const std::exception& e) {
        mpi.abort(std::string("error: ") + e.what());  // stops every rank; mpirun names this one
    }
}
