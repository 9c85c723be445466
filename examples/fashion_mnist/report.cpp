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

std::string report(const katachi::data::confusion_matrix& m) {
    std::string out = "test accuracy " + fixed(m.accuracy(), 4) + " (" + std::to_string(m.correct()) + " of " +
                      std::to_string(m.total()) + " test images)\n\n";

    std::vector<std::vector<std::string>> per_class{{"class", "accuracy", "images"}};
    for (std::size_t i = 0; i < 10; ++i)
        per_class.push_back({class_names[i], fixed(m.recall(i), 3), std::to_string(m.label_count(i))});
    out += format_table(per_class, {false, true, true}) + "\n";

    std::vector<std::vector<std::string>> matrix{{"true \\ predicted"}};
    for (std::size_t c = 0; c < 10; ++c) matrix[0].push_back(std::to_string(c));
    for (std::size_t i = 0; i < 10; ++i) {
        matrix.push_back({std::to_string(i) + " " + class_names[i]});
        for (std::size_t c = 0; c < 10; ++c) matrix.back().push_back(std::to_string(m.count(i, c)));
    }
    std::vector<bool> right(11, true);
    right[0] = false;
    return out + "confusion matrix (rows: true class, columns: predicted class)\n" +
           format_table(matrix, right);
}

}  // namespace fashion_mnist
