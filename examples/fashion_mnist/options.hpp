// examples/fashion_mnist/options.hpp: the demo's command line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
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
    std::filesystem::path emit_graph;  // empty: no graph-face header (eager face only)
    std::filesystem::path evaluate;  // a checkpoint to evaluate instead of training
    std::filesystem::path resume;    // a folder whose training state to continue
    struct input_normalisation {
        double mean = 0, std = 1;
    };
    std::optional<input_normalisation> normalise;  // unset: the checkpoint's, or measured
    std::set<std::string> given;  // the options the command line set, by their first spelling
    bool deterministic = false;  // katachi::set_deterministic
    bool distributed = false;    // over MPI, under mpirun (ranks.hpp)
    bool help = false;
};

class usage_error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Parses argv; throws usage_error for an unknown option or a bad value.
options parse_options(int argc, char** argv);

std::string usage();

// A finite number spelled by the whole of `text` (strtod's syntax, no inf, nan or trailing
// characters); nothing otherwise.
std::optional<double> parse_finite(const std::string& text);

}  // namespace fashion_mnist
