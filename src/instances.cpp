// The kernels' float and double instances that katachi/instances.hpp declares extern for a
// program compiled with KATACHI_EXTERN_KERNELS.
#include <katachi/data/idx_dataset.hpp>
#include <katachi/instances.hpp>
#include <katachi/io/idx.hpp>

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
}  // namespace katachi::data
