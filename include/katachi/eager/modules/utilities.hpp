// katachi/eager/modules/utilities.hpp: counting, summaries, optimiser views and checkpoints.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "katachi/eager/modules/module.hpp"
#include "katachi/optim/parameter.hpp"

namespace katachi::eager::nn {

// The number of parameter elements, each shared parameter once; nullopt while any parameter is
// uninitialized (a lazy module not yet materialised).
std::optional<std::size_t> parameter_count(const module& m);
// parameter_count as text: "421642", or "uninitialized".
std::string parameter_count_text(const module& m);

// One line per parameter ("0.weight  [32, 1, 3, 3]  288", or "... uninitialized") and a total;
// never throws for an unmaterialised model.
std::string summary(const module& m);

// The module's parameters as the optimisers see them: callables that return the current value
// and gradient storage, so a lazy parameter materialised after the optimiser was built is stepped,
// and one without a gradient (frozen, or unused this step) is skipped. Pass them to optim::sgd or
// optim::adam, or to add_param_group for a block appended to a growing model.
std::vector<optim::parameter<float>> optimiser_parameters(const module& m);

// The state dict as a safetensors file, and back (see module::load_state_dict).
void save(const module& m, const std::filesystem::path& path);
load_result load(module& m, const std::filesystem::path& path, bool strict = true);

}  // namespace katachi::eager::nn
