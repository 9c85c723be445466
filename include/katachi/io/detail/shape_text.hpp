// katachi/io/detail/shape_text.hpp: a shape as io's messages print it, "[2, 3]" (shared by the
// safetensors and IDX readers).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace katachi::io::detail {

inline std::string shape_text(const std::vector<std::size_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

}  // namespace katachi::io::detail
