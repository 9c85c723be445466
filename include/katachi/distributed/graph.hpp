// katachi/distributed/graph.hpp: a graph model's parameters broadcast from rank 0 and its gradients
// averaged over the ranks.
#pragma once

#include <katachi/distributed/collectives.hpp>

namespace katachi::distributed {

// A graph model's parameters and buffers (batch norm's running statistics) become rank 0's.
template <class Model>
void broadcast_parameters(Model& m) {
    broadcast(m.all_parameters());
    broadcast(m.all_buffers());
}

// After backward: every rank's gradients become their mean over the ranks.
template <class Model>
void average_gradients(Model& m) {
    all_reduce_mean(m.all_gradients());
}

}  // namespace katachi::distributed
