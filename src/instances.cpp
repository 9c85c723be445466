// The kernels' float and double instances that katachi/instances.hpp declares extern for a
// program compiled with KATACHI_EXTERN_KERNELS, and those the data and optimiser headers declare
// at their ends (float's data loader, normalize, Adam, AdamW and cosine schedule).
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
