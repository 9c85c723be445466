// examples/fashion_mnist/report.hpp: test accuracy, per-class accuracy and the confusion matrix.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace fashion_mnist {

inline constexpr std::array<const char*, 10> class_names{
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

class confusion_matrix {
public:
    // Counts one image; a label or prediction outside 0..9 throws std::out_of_range naming it.
    void add(std::int64_t label, std::int64_t predicted) {
        if (label < 0 || label >= 10)
            throw std::out_of_range("confusion_matrix::add: label " + std::to_string(label) +
                                    " is not a class (0 to 9)");
        if (predicted < 0 || predicted >= 10)
            throw std::out_of_range("confusion_matrix::add: prediction " + std::to_string(predicted) +
                                    " is not a class (0 to 9)");
        ++counts_[static_cast<std::size_t>(label)][static_cast<std::size_t>(predicted)];
    }
    std::size_t total() const;
    std::size_t correct() const;
    double accuracy() const;
    double class_accuracy(std::size_t label) const;  // recall of one class
    std::size_t count(std::size_t label, std::size_t predicted) const { return counts_[label][predicted]; }

    // "test accuracy 0.9123 (9123 of 10000)", then the per-class accuracies and the matrix (rows are
    // the true classes, columns the predicted ones) as tables.
    std::string report() const;

private:
    std::array<std::array<std::size_t, 10>, 10> counts_{};
};

}  // namespace fashion_mnist
