// examples/embedded/classifier.hpp: the Fashion-MNIST classifier katachi puts on the Cortex-M7,
// shared by the host programs (training, the reference run) and the device image.
//
// 26,698 parameters: two 3x3 convolutions (8 and 16 channels) with 2x2 max pooling, a dense layer
// of 32 and the classifier head. The device fine-tunes the head alone: the trunk (everything before
// the head) stays in flash and gives each image's 32 features, the head trains in RAM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <katachi/graph/layers/conv2d.hpp>
#include <katachi/graph/layers/flatten.hpp>
#include <katachi/graph/layers/linear.hpp>
#include <katachi/graph/layers/max_pool2d.hpp>
#include <katachi/graph/layers/relu.hpp>
#include <katachi/graph/sequential.hpp>

namespace classifier {

using namespace katachi::graph;

// Under PyTorch's nn.Sequential names: 0 conv, 3 conv, 7 dense, 9 head.
using network = sequential<input<1, 28, 28>, conv2d<8, 3, padding<1>>, relu, max_pool2d<2>,
                           conv2d<16, 3, padding<1>>, relu, max_pool2d<2>, flatten, linear<32>, relu, linear<10>>;
// The same layers without the head: its parameters are the network's first ones, in the same order.
using trunk = sequential<input<1, 28, 28>, conv2d<8, 3, padding<1>>, relu, max_pool2d<2>,
                         conv2d<16, 3, padding<1>>, relu, max_pool2d<2>, flatten, linear<32>, relu>;
using head = sequential<input<32>, linear<10>>;
static_assert(network::parameter_count == trunk::parameter_count + head::parameter_count);
static_assert(network::parameter_count < 100'000, "sized for a microcontroller");

// Pixels (bytes 0..255) become (p / 255 - mean) / std, the training set's statistics.
inline constexpr float pixel_mean = 0.2860f;
inline constexpr float pixel_std = 0.3530f;
inline float normalise(std::uint8_t pixel) { return (static_cast<float>(pixel) / 255.0f - pixel_mean) / pixel_std; }

// What the device runs: inference on the first `inference_images` test images, one at a time (the
// arena then holds one image's activations); then `fine_tune_steps` SGD steps on the head, step s
// on images [s * batch, (s + 1) * batch) mod `fine_tune_images`, at learning rate `fine_tune_lr`.
inline constexpr std::size_t inference_images = 300;
inline constexpr std::size_t inference_batch = 1;
inline constexpr std::size_t batch = 10;
inline constexpr std::size_t fine_tune_images = 100;
inline constexpr std::size_t fine_tune_steps = 20;
inline constexpr float fine_tune_lr = 0.05f;

}  // namespace classifier
