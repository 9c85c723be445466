// src/eager/modules/module_paths.hpp: what module.cpp takes from module_paths.cpp (not installed).
#pragma once

#include <exception>
#include <string>

#include "katachi/eager/modules/module.hpp"

namespace katachi::eager::nn::detail {

// Throws `e` again, as its type, as an error of the module `m` at `path`:
//   features.2 (lazy_conv2d): <the message, less a leading "lazy_conv2d: ">
// Returns if the type is not one of katachi's (the caller rethrows it unchanged).
void throw_named(const std::exception& e, const std::string& path, const module& m);

}  // namespace katachi::eager::nn::detail
