// The kernels' float and double instances that katachi/instances.hpp declares extern for a
// program compiled with KATACHI_EXTERN_KERNELS.
#include <katachi/instances.hpp>

namespace katachi::kernels::detail {
KATACHI_KERNEL_INSTANCES(, float)
KATACHI_KERNEL_INSTANCES(, double)
}  // namespace katachi::kernels::detail
namespace katachi::ops {
KATACHI_OP_INSTANCES(, float)
KATACHI_OP_INSTANCES(, double)
}  // namespace katachi::ops
