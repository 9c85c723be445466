// katachi/graph.hpp: the graph face (define-and-run): models as compile-time graphs.
#pragma once

#include <katachi/diagnostics.hpp>
#include <katachi/graph/inference.hpp>
#include <katachi/graph/layer.hpp>
#include <katachi/graph/layers/adaptive_avg_pool2d.hpp>
#include <katachi/graph/layers/add.hpp>
#include <katachi/graph/layers/avg_pool2d.hpp>
#include <katachi/graph/layers/batch_norm.hpp>
#include <katachi/graph/layers/concat.hpp>
#include <katachi/graph/layers/conv1d.hpp>
#include <katachi/graph/layers/conv2d.hpp>
#include <katachi/graph/layers/conv_transpose2d.hpp>
#include <katachi/graph/layers/dropout.hpp>
#include <katachi/graph/layers/flatten.hpp>
#include <katachi/graph/layers/gelu.hpp>
#include <katachi/graph/layers/leaky_relu.hpp>
#include <katachi/graph/layers/linear.hpp>
#include <katachi/graph/layers/max_pool2d.hpp>
#include <katachi/graph/layers/relu.hpp>
#include <katachi/graph/layers/sigmoid.hpp>
#include <katachi/graph/layers/tanh.hpp>
#include <katachi/graph/model.hpp>
#include <katachi/graph/network.hpp>
#include <katachi/graph/properties.hpp>
#include <katachi/graph/sequential.hpp>
#include <katachi/graph/state_dict.hpp>
