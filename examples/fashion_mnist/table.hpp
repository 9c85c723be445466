// examples/fashion_mnist/table.hpp: rows of text as aligned columns (the first row is the header).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace fashion_mnist {

// right[c] right-aligns column c (numbers); columns are separated by two spaces.
inline std::string format_table(const std::vector<std::vector<std::string>>& rows,
                                const std::vector<bool>& right) {
    std::vector<std::size_t> width;
    for (const auto& row : rows) {
        width.resize(std::max(width.size(), row.size()));
        for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
    }
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t c = 0; c < row.size(); ++c) {
            const std::string pad(width[c] - row[c].size(), ' ');
            const bool r = c < right.size() && right[c];
            line += (c ? "  " : "") + (r ? pad + row[c] : row[c] + (c + 1 < row.size() ? pad : ""));
        }
        out += line + "\n";
    }
    return out;
}

}  // namespace fashion_mnist
