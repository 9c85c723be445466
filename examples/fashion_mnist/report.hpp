// examples/fashion_mnist/report.hpp: test accuracy, per-class accuracy and the confusion matrix,
// as tables, from katachi::data's confusion_matrix.
#pragma once

#include <array>
#include <katachi/data/metrics.hpp>
#include <string>

namespace fashion_mnist {

inline constexpr std::array<const char*, 10> class_names{
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

// "test accuracy 0.9123 (9123 of 10000 test images)", then the per-class accuracies and the matrix
// (rows are the true classes, columns the predicted ones) as tables.
std::string report(const katachi::data::confusion_matrix& m);

}  // namespace fashion_mnist
