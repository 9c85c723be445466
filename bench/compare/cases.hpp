// bench/compare/cases.hpp: the work the comparison times, as each implementation provides it.
//
// Every implementation (katachi's graph face, katachi's eager face, libtorch's C++ frontend) builds
// the same ten cases: the LeNet, the MLP 784-256-128-10 and the tiny MLP 4-16-3, each as a training
// step at batch 64 (forward, cross-entropy, backward, SGD with momentum 0.9) and as inference at
// batch 1 and at batch 256, and the tiny MLP's training step at batch 1. A case is a prepared closure:
// models, optimisers and inputs are made once, and run() does one step or one forward. This header is C++17
// so that the libtorch side can be compiled in the language mode libtorch 1.13's headers accept.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace katachi::bench {

struct bench_case {
    std::string model;  // "lenet", "mlp", "tiny_mlp"
    std::string kind;   // "train", "infer"
    std::size_t batch;
    std::function<void()> run;
};

// The cases in one order for every implementation: for each model, train 64, infer 1, infer 256;
// then the tiny MLP's train 1.
std::vector<bench_case> graph_cases();
std::vector<bench_case> eager_cases();
std::vector<bench_case> libtorch_cases();

// libtorch's thread settings: its own (OpenMP) pool and, through the shared OpenBLAS, BLAS's pool.
void libtorch_set_threads(int torch_threads);
// torch::set_flush_denormal: denormal floats flushed to zero on the calling thread.
bool libtorch_set_flush_denormal(bool on);

}  // namespace katachi::bench
