// katachi/io/idx/fashion_mnist.hpp: the Fashion-MNIST data set from its four IDX files, checked for
// what the demo relies on (part of katachi/io/idx.hpp, which includes it).
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <katachi/error.hpp>
#include <katachi/io/idx/input.hpp>
#include <katachi/io/idx/read.hpp>
#include <string>
#include <system_error>
#include <xtensor/xtensor.hpp>

namespace katachi::io {

struct fashion_mnist {
    xt::xtensor<float, 4> train_images;  // [60000, 1, 28, 28] in [0, 1]
    xt::xtensor<std::int64_t, 1> train_labels;
    xt::xtensor<float, 4> test_images;  // [10000, 1, 28, 28]
    xt::xtensor<std::int64_t, 1> test_labels;
};

// Where Debian's dataset-fashion-mnist package puts the files.
inline const std::filesystem::path fashion_mnist_default_dir = "/usr/share/datasets/fashion-mnist";

namespace detail {

inline constexpr const char* install_hint =
    "install the Debian package dataset-fashion-mnist (apt install dataset-fashion-mnist)";

}  // namespace detail

// Loads the four files; a missing folder or file throws idx_error that names the Debian package
// providing them (dataset-fashion-mnist). What the Fashion-MNIST demo relies on is checked, each
// failure an idx_error naming the file: images are 28x28, every label is a class 0..9 (the error
// gives the index and value of the first that is not), image and label counts agree.
// A template only so that KATACHI_EXTERN_KERNELS can take its one instance from libkatachi (see the
// end of this file); call it as a function.
template <class = void>
fashion_mnist load_fashion_mnist(const std::filesystem::path& dir = fashion_mnist_default_dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        KATACHI_THROW(idx_error, dir.string(),
                      "the Fashion-MNIST folder does not exist; " + std::string(detail::install_hint) +
                          ", or pass the folder that holds the four files");
    const auto file = [&](const char* leaf) {
        const std::filesystem::path p = dir / leaf;
        if (!std::filesystem::exists(p, ec))
            KATACHI_THROW(idx_error, p.string(),
                          "missing Fashion-MNIST file; " + std::string(detail::install_hint));
        return p;
    };
    const auto pair = [&](const char* images_leaf, const char* labels_leaf, xt::xtensor<float, 4>& images,
                          xt::xtensor<std::int64_t, 1>& labels) {
        const auto images_path = file(images_leaf);
        const auto labels_path = file(labels_leaf);
        images = read_idx_images(images_path);
        if (images.shape()[2] != 28 || images.shape()[3] != 28)
            KATACHI_THROW(idx_error, images_path.string(),
                          "the images are " + std::to_string(images.shape()[2]) + "x" +
                              std::to_string(images.shape()[3]) + "; Fashion-MNIST images are 28x28");
        labels = read_idx_labels(labels_path);
        const auto bad =
            std::find_if(labels.begin(), labels.end(), [](std::int64_t l) { return l < 0 || l > 9; });
        if (bad != labels.end())
            KATACHI_THROW(idx_error, labels_path.string(),
                          "the label at index " + std::to_string(bad - labels.begin()) + " is " +
                              std::to_string(*bad) + "; Fashion-MNIST's classes are 0..9");
        if (images.shape()[0] != labels.shape()[0])
            KATACHI_THROW(idx_error, labels_path.string(),
                          std::to_string(labels.shape()[0]) + " labels for " +
                              std::to_string(images.shape()[0]) + " images in " + images_path.string() +
                              "; the counts must agree");
    };
    fashion_mnist out;
    pair("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", out.train_images, out.train_labels);
    pair("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", out.test_images, out.test_labels);
    return out;
}

}  // namespace katachi::io

#define KATACHI_FASHION_MNIST_INSTANCES(EXTERN) \
    EXTERN template fashion_mnist load_fashion_mnist<void>(const std::filesystem::path&);
#if defined(KATACHI_EXTERN_KERNELS)
namespace katachi::io {
KATACHI_FASHION_MNIST_INSTANCES(extern)
}  // namespace katachi::io
#endif
