// katachi/kernels.hpp: every kernel. Each header holds one op, its forward and its backward.
#pragma once

#include <katachi/kernels/adaptive_avg_pool2d.hpp>
#include <katachi/kernels/add.hpp>
#include <katachi/kernels/avg_pool2d.hpp>
#include <katachi/kernels/batch_norm.hpp>
#include <katachi/kernels/common.hpp>
#include <katachi/kernels/concat.hpp>
#include <katachi/kernels/conv1d.hpp>
#include <katachi/kernels/conv2d.hpp>
#include <katachi/kernels/conv_transpose2d.hpp>
#include <katachi/kernels/cross_entropy.hpp>
#include <katachi/kernels/dropout.hpp>
#include <katachi/kernels/flatten.hpp>
#include <katachi/kernels/gelu.hpp>
#include <katachi/kernels/leaky_relu.hpp>
#include <katachi/kernels/linear.hpp>
#include <katachi/kernels/log_softmax.hpp>
#include <katachi/kernels/max_pool2d.hpp>
#include <katachi/kernels/mse_loss.hpp>
#include <katachi/kernels/nll_loss.hpp>
#include <katachi/kernels/relu.hpp>
#include <katachi/kernels/sigmoid.hpp>
#include <katachi/kernels/softmax.hpp>
#include <katachi/kernels/tanh.hpp>
