// katachi/distributed.hpp: data-parallel training over MPI (Open MPI), the graph face's first
// step: one process per rank, the same model on each, parameters broadcast from rank 0 at the
// start and gradients averaged after each backward, so every rank takes the same optimiser step.
//
//   katachi::distributed::context mpi(argc, argv);              // MPI_Init ... MPI_Finalize
//   graph::model<Net> m(seed);
//   distributed::broadcast_parameters(m);                       // every rank starts from rank 0's
//   data::data_loader loader(train, {.batch_size = 32, .shuffle = true, .seed = 1,
//                                    .num_replicas = mpi.size(), .rank = mpi.rank()});
//   for (const auto& b : loader) {
//       m.forward(b.input()); m.cross_entropy(b.targets()); m.backward();
//       distributed::average_gradients(m);                      // the mean over all ranks' samples
//       opt.step();
//   }
//   data::confusion_matrix cm(10);                               // each rank scores its shard...
//   distributed::all_reduce_sum(cm.counts());                    // ...and every rank gets the whole set's
//
// With each rank's mean loss over its own batch, the averaged gradient is the gradient of the mean
// loss over all ranks' batches: 2 ranks at batch 32 step as 1 rank at batch 64. Needs <mpi.h>
// (Debian's libopenmpi-dev; Meson's `distributed` feature). An MPI call that fails throws
// std::runtime_error naming the call and MPI's own sentence.
//
// Batch norm keeps each rank's own statistics unless it is synchronised (graph::sync_batch_norm2d,
// .sync = true, nn::convert_sync_batch_norm): then, while the context lives, its training
// statistics are those of every rank's batch together (ops/batch_norm.hpp).
#pragma once

#include <katachi/distributed/collectives.hpp>
#include <katachi/distributed/context.hpp>
#include <katachi/distributed/graph.hpp>
