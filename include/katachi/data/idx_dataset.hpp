// katachi/data/idx_dataset.hpp: a data set from a pair of IDX files (MNIST, Fashion-MNIST, and any
// other set in that format), images scaled to [0, 1] as PyTorch's ToTensor does.
//
//   auto train = data::idx_dataset(dir / "train-images-idx3-ubyte.gz", dir / "train-labels-idx1-ubyte.gz");
//   auto [train, test] = data::fashion_mnist_datasets();   // Debian's dataset-fashion-mnist
#pragma once

#include <cstdint>
#include <filesystem>
#include <katachi/data/dataset.hpp>
#include <katachi/io/idx.hpp>
#include <string>
#include <utility>

namespace katachi::data {

// Images [N, 1, rows, cols] in [0, 1] and their labels; the counts must agree (an idx_error names
// the labels file otherwise). A template only so that KATACHI_EXTERN_KERNELS can take its one
// instance from libkatachi (see the end of this file); call it as a function.
template <class = void>
tensor_dataset<float> idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels) {
    const auto x = io::read_idx_images(images);
    const auto y = io::read_idx_labels(labels);
    if (x.shape()[0] != y.shape()[0])
        KATACHI_THROW(io::idx_error, labels.string(),
                      std::to_string(y.shape()[0]) + " labels for " + std::to_string(x.shape()[0]) + " images in " +
                          images.string() + "; the counts must agree");
    return tensor_dataset<float>::from(x, y);
}

struct train_and_test {
    tensor_dataset<float> train, test;
};

// Fashion-MNIST's 60,000 training and 10,000 test images, checked as io::load_fashion_mnist checks
// them (28x28, classes 0..9), from `dir` (Debian's dataset-fashion-mnist by default). (A template
// for KATACHI_EXTERN_KERNELS, as idx_dataset.)
template <class = void>
train_and_test fashion_mnist_datasets(const std::filesystem::path& dir = io::fashion_mnist_default_dir) {
    const io::fashion_mnist f = io::load_fashion_mnist(dir);
    return {tensor_dataset<float>::from(f.train_images, f.train_labels),
            tensor_dataset<float>::from(f.test_images, f.test_labels)};
}

}  // namespace katachi::data

#define KATACHI_IDX_DATASET_INSTANCES(EXTERN)                                                          \
    EXTERN template tensor_dataset<float> idx_dataset<void>(const std::filesystem::path&,              \
                                                            const std::filesystem::path&);             \
    EXTERN template train_and_test fashion_mnist_datasets<void>(const std::filesystem::path&);
#if defined(KATACHI_EXTERN_KERNELS)
namespace katachi::data {
KATACHI_IDX_DATASET_INSTANCES(extern)
}  // namespace katachi::data
#endif
