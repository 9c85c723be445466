// examples/fashion_mnist/options.hpp: the demo's command line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "face.hpp"

namespace fashion_mnist {

struct options {
    std::string face = "graph";
    std::size_t epochs = 3;
    std::size_t batch_size = 64;
    optimiser_options optimiser;
    bool lr_given = false;
    std::string schedule = "cosine";  // constant or cosine (decay to zero over the run)
    std::uint64_t seed = 0;
    int threads = 2;
    std::filesystem::path data = "/usr/share/datasets/fashion-mnist";
    std::filesystem::path out = "katachi-out";
    std::size_t train_subset = 0;    // 0: all 60,000
    std::size_t test_subset = 0;     // 0: all 10,000
    std::filesystem::path dot;       // empty: no DOT file
    std::filesystem::path evaluate;  // a checkpoint to evaluate instead of training
    bool help = false;
};

class usage_error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Parses argv; throws usage_error for an unknown option or a bad value.
options parse_options(int argc, char** argv);

std::string usage();

}  // namespace fashion_mnist
