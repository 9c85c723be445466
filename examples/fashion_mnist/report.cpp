// examples/fashion_mnist/report.cpp
#include "report.hpp"

#include <cstdio>
#include <vector>

#include "table.hpp"

namespace fashion_mnist {

namespace {
std::string fixed(double v, int digits) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
    return buffer;
}
}  // namespace

std::size_t confusion_matrix::total() const {
    std::size_t n = 0;
    for (const auto& row : counts_)
        for (std::size_t c : row) n += c;
    return n;
}

std::size_t confusion_matrix::correct() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < 10; ++i) n += counts_[i][i];
    return n;
}

double confusion_matrix::accuracy() const {
    const std::size_t n = total();
    return n ? static_cast<double>(correct()) / static_cast<double>(n) : 0.0;
}

double confusion_matrix::class_accuracy(std::size_t label) const {
    std::size_t n = 0;
    for (std::size_t c : counts_[label]) n += c;
    return n ? static_cast<double>(counts_[label][label]) / static_cast<double>(n) : 0.0;
}

std::string confusion_matrix::report() const {
    std::string out = "test accuracy " + fixed(accuracy(), 4) + " (" + std::to_string(correct()) + " of " +
                      std::to_string(total()) + " test images)\n\n";

    std::vector<std::vector<std::string>> per_class{{"class", "accuracy", "images"}};
    for (std::size_t i = 0; i < 10; ++i) {
        std::size_t n = 0;
        for (std::size_t c : counts_[i]) n += c;
        per_class.push_back({class_names[i], fixed(class_accuracy(i), 3), std::to_string(n)});
    }
    out += format_table(per_class, {false, true, true}) + "\n";

    std::vector<std::vector<std::string>> matrix{{"true \\ predicted"}};
    for (std::size_t c = 0; c < 10; ++c) matrix[0].push_back(std::to_string(c));
    for (std::size_t i = 0; i < 10; ++i) {
        matrix.push_back({std::to_string(i) + " " + class_names[i]});
        for (std::size_t c = 0; c < 10; ++c) matrix.back().push_back(std::to_string(counts_[i][c]));
    }
    std::vector<bool> right(11, true);
    right[0] = false;
    return out + "confusion matrix (rows: true class, columns: predicted class)\n" +
           format_table(matrix, right);
}

}  // namespace fashion_mnist
