// katachi/instantiate.hpp: compiles, in the one source file that includes it, every instance that
// KATACHI_EXTERN_KERNELS makes a program's other files take from elsewhere.
//
// A program whose files define KATACHI_EXTERN_KERNELS neither instantiates nor optimises the float
// and double kernels, layer ops, IDX readers, data sets, data loader and optimisers listed in
// katachi/instances.hpp and at the ends of those headers: it needs their code once, from somewhere.
// libkatachi has it (src/instances.cpp is this header). A program built from the headers alone,
// without libkatachi, includes this header in one file of its own instead:
//
//     // kernels.cpp, compiled once; main.cpp and the rest define KATACHI_EXTERN_KERNELS
//     #include <katachi/instantiate.hpp>
//
// That file takes the few seconds of code generation that each file of the program would otherwise
// spend again (docs/compile_times.md measures both), and a build system recompiles it only when
// katachi changes. It must be compiled with the same KATACHI_BLAS_NONE setting as the program's other
// files. Including it in more than one file, or in a program that also links libkatachi, is allowed:
// the linker keeps one copy of each instance.
#pragma once

#include <katachi/data/idx_dataset.hpp>
#include <katachi/data/loader.hpp>
#include <katachi/data/transforms.hpp>
#include <katachi/instances.hpp>
#include <katachi/io/idx.hpp>
#include <katachi/optim/adam.hpp>
#include <katachi/optim/cosine_annealing_lr.hpp>
#include <katachi/optim/sgd.hpp>

namespace katachi::kernels {
KATACHI_KERNEL_API_INSTANCES(, float)
KATACHI_KERNEL_API_INSTANCES(, double)
}  // namespace katachi::kernels
namespace katachi::kernels::detail {
KATACHI_KERNEL_INSTANCES(, float)
KATACHI_KERNEL_INSTANCES(, double)
KATACHI_FLOAT_KERNEL_INSTANCES()
}  // namespace katachi::kernels::detail
namespace katachi::ops {
KATACHI_OP_INSTANCES(, float)
KATACHI_OP_INSTANCES(, double)
}  // namespace katachi::ops
namespace katachi::io {
KATACHI_IDX_INSTANCES()
KATACHI_FASHION_MNIST_INSTANCES()
}  // namespace katachi::io
namespace katachi::data {
KATACHI_IDX_DATASET_INSTANCES()
KATACHI_DATA_LOADER_INSTANCES()
KATACHI_NORMALIZE_INSTANCES()
}  // namespace katachi::data
namespace katachi::optim {
KATACHI_ADAM_INSTANCES()
KATACHI_COSINE_ANNEALING_LR_INSTANCES()
}  // namespace katachi::optim
