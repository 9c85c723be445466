// katachi/instances.hpp: the float and double instances of the largest kernels and layer ops, compiled
// once in libkatachi for programs that link it.
//
// Every program that includes katachi compiles the kernels it uses (the face is header-only), and
// the convolution, pooling and product kernels are most of a training program's compile time. A
// program that links libkatachi can define KATACHI_EXTERN_KERNELS (in every translation unit, like
// KATACHI_BLAS_NONE) to take these instances from the library instead (src/instances.cpp):
// here they are then declared extern, and its translation units neither instantiate nor optimise
// them. Without the macro nothing changes, and no library is needed. Other element types, and the
// smaller kernels, are instantiated where used either way. The IDX readers and data sets do the same
// at the end of their own headers (io/idx/read.hpp, io/idx/fashion_mnist.hpp, data/idx_dataset.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <katachi/kernels/conv2d/lowering.hpp>
#include <katachi/kernels/conv_relu_pool.hpp>
#include <katachi/kernels/gemm.hpp>
#include <katachi/kernels/im2col.hpp>
#include <katachi/kernels/max_pool2d.hpp>
#include <katachi/kernels/winograd/forward.hpp>
#include <katachi/kernels/winograd/pool.hpp>
#include <katachi/kernels/winograd/pool_backward.hpp>
#include <katachi/kernels/winograd/weight_grad.hpp>
#include <katachi/ops/conv2d.hpp>
#include <katachi/ops/conv_relu_max_pool2d.hpp>
#include <katachi/ops/linear.hpp>
#include <katachi/ops/max_pool2d.hpp>

// KATACHI_KERNEL_INSTANCES(extern, float) declares them, KATACHI_KERNEL_INSTANCES(, float) defines
// them: one list for both, so the declarations and the library cannot disagree. Likewise the ops.
#define KATACHI_KERNEL_INSTANCES(EXTERN, T)                                                                  \
    EXTERN template void gemm<T>(bool, bool, std::size_t, std::size_t, std::size_t, T, const T*, const T*,   \
                                 T, T*);                                                                     \
    EXTERN template void gemm_block<T>(bool, bool, std::size_t, std::size_t, std::size_t, T, const T*,       \
                                       std::size_t, const T*, std::size_t, T, T*, std::size_t);              \
    EXTERN template void im2col<T>(const conv_geometry&, const T*, T*, std::size_t);                         \
    EXTERN template void col2im_add<T>(const conv_geometry&, T*, std::size_t, T*);                           \
    EXTERN template void lowered_convolve<T>(const conv_geometry&, const T*, const T*, const T*, T*, T*,     \
                                             write);                                                         \
    EXTERN template void lowered_convolve_adjoint<T>(const conv_geometry&, const T*, const T*, const T*, T*, \
                                                     T*, write);                                             \
    EXTERN template void lowered_weight_grad<T>(const conv_geometry&, const T*, const T*, T*, T*, T*,        \
                                                write);                                                      \
    EXTERN template void channel_sums<T>(const T*, T*, std::size_t, std::size_t, std::size_t, write);        \
    EXTERN template void winograd_convolve<T>(const winograd_shape&, const T*, const T*, bool, const T*, T*, \
                                              T*, write);                                                    \
    EXTERN template void winograd_weight_grad<T>(const winograd_shape&, const T*, const T*, T*, T*, T*,      \
                                                 write);                                                     \
    EXTERN template void max_pool2d_run<T, std::uint8_t>(const T*, T*, std::uint8_t*,                        \
                                                         const std::array<std::size_t, 4>&, std::size_t,     \
                                                         std::size_t, const max_pool2d_options&);            \
    EXTERN template void max_pool2d_run<T, std::int64_t>(const T*, T*, std::int64_t*,                        \
                                                         const std::array<std::size_t, 4>&, std::size_t,     \
                                                         std::size_t, const max_pool2d_options&);            \
    EXTERN template void conv_relu_pool_forward<T>(const conv_pool_shape&, const T*, const T*, const T*, T*, \
                                                   std::uint8_t*, T*, bool);                                 \
    EXTERN template void conv_relu_pool_weight_grad<T>(const conv_pool_shape&, const T*, const T*, const T*, \
                                                       const std::uint8_t*, T*, T*, T*, write, bool);        \
    EXTERN template void conv_relu_pool_input_grad<T>(const conv_pool_shape&, const T*, const T*, const T*,  \
                                                      const std::uint8_t*, T*, write);

// Winograd's forward and backward with the pooling taken in, whose fused passes are float's alone.
#define KATACHI_FLOAT_KERNEL_INSTANCES(EXTERN)                                                            \
    EXTERN template void winograd_convolve_pool<float>(const winograd_shape&, const float*, const float*, \
                                                       const float*, float*, std::uint8_t*, float*,       \
                                                       const float*);                                     \
    EXTERN template void winograd_pool_backward<float>(const winograd_shape&, const float*, const float*, \
                                                       const float*, const float*, const std::uint8_t*,   \
                                                       float*, float*, write, float*, write, float*, bool);

// The max-pooling backward kernel as ops::max_pool2d's unpool calls it (with window positions or flat
// indices, with or without a relu's output as the mask), for the files that call it other than
// through the ops below: this keeps its instances (and their parallel loops) out of every file.
#define KATACHI_KERNEL_API_INSTANCES(EXTERN, T)                                                              \
    EXTERN template void max_pool2d_backward<tensor_view<const T, 4>, tensor_view<const std::uint8_t, 4>,    \
                                             const tensor_view<T, 4>&, none_t>(                              \
        const tensor_view<const T, 4>&, const tensor_view<const std::uint8_t, 4>&, const tensor_view<T, 4>&, \
        write, const none_t&);                                                                               \
    EXTERN template void max_pool2d_backward<tensor_view<const T, 4>, tensor_view<const std::uint8_t, 4>,    \
                                             const tensor_view<T, 4>&, tensor_view<const T, 4>>(             \
        const tensor_view<const T, 4>&, const tensor_view<const std::uint8_t, 4>&, const tensor_view<T, 4>&, \
        write, const tensor_view<const T, 4>&);                                                              \
    EXTERN template void max_pool2d_backward<tensor_view<const T, 4>, tensor_view<const std::int64_t, 4>,    \
                                             const tensor_view<T, 4>&, none_t>(                              \
        const tensor_view<const T, 4>&, const tensor_view<const std::int64_t, 4>&, const tensor_view<T, 4>&, \
        write, const none_t&);                                                                               \
    EXTERN template void max_pool2d_backward<tensor_view<const T, 4>, tensor_view<const std::int64_t, 4>,    \
                                             const tensor_view<T, 4>&, tensor_view<const T, 4>>(             \
        const tensor_view<const T, 4>&, const tensor_view<const std::int64_t, 4>&, const tensor_view<T, 4>&, \
        write, const tensor_view<const T, 4>&);

// The ops whose bodies hold the kernels' calls (linear's forward is always inlined: not here). They
// are defined after their structs, not inline: an inline function's instance would still be
// compiled in each file for the inliner.
#define KATACHI_OP_INSTANCES(EXTERN, T)                                                                      \
    EXTERN template void conv2d::forward<T>(const conv2d_options&, const dims&, const call<T>&);             \
    EXTERN template void conv2d::backward<T>(const conv2d_options&, const dims&, const call<T>&);            \
    EXTERN template void max_pool2d::forward<T>(const max_pool2d_options&, const dims&, const call<T>&);     \
    EXTERN template void max_pool2d::backward<T>(const max_pool2d_options&, const dims&, const call<T>&);    \
    EXTERN template void max_pool2d::forward_after_relu<T>(const max_pool2d_options&, const dims&,           \
                                                           const call<T>&);                                  \
    EXTERN template void max_pool2d::backward_through_relu<T>(const max_pool2d_options&, const dims&,        \
                                                              const call<T>&);                               \
    EXTERN template void max_pool2d::unpool<T>(const max_pool2d_options&, const dims&, const call<T>&,       \
                                               bool);                                                        \
    EXTERN template void linear::backward<T>(const linear_options&, const dims&, const call<T>&);            \
    EXTERN template void conv_relu_max_pool2d::forward<T>(const conv2d_options&, const max_pool2d_options&,  \
                                                          const dims&, const call<T>&, pass);                \
    EXTERN template void conv_relu_max_pool2d::backward<T>(const conv2d_options&, const max_pool2d_options&, \
                                                           const dims&, const call<T>&, pass);

#if defined(KATACHI_EXTERN_KERNELS)
namespace katachi::kernels {
KATACHI_KERNEL_API_INSTANCES(extern, float)
KATACHI_KERNEL_API_INSTANCES(extern, double)
}  // namespace katachi::kernels
namespace katachi::kernels::detail {
KATACHI_KERNEL_INSTANCES(extern, float)
KATACHI_KERNEL_INSTANCES(extern, double)
KATACHI_FLOAT_KERNEL_INSTANCES(extern)
}  // namespace katachi::kernels::detail
namespace katachi::ops {
KATACHI_OP_INSTANCES(extern, float)
KATACHI_OP_INSTANCES(extern, double)
}  // namespace katachi::ops
#endif
