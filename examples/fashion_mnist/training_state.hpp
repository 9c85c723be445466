// examples/fashion_mnist/training_state.hpp: what --resume needs to continue a run.
//
// After every epoch (after its evaluation) the demo writes <out>/lenet_<face>_state.safetensors,
// atomically: the model's state dict under "model.", the optimiser's under "optimiser.", the curves
// so far ("curve.<name>", F64 [points, 2]), and as metadata every option that determines training,
// the input normalisation, the epochs done and the steps taken. The data order needs no state: the
// loader's order of an epoch is a function of the seed and the epoch. A run resumed from it takes
// the same steps as one that was never stopped, so at the same seed and thread count its final
// checkpoint is the same file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <katachi/io/safetensors.hpp>
#include <katachi/random.hpp>
#include <string>
#include <utility>
#include <vector>

#include "options.hpp"

namespace fashion_mnist {

using curve_points = std::vector<std::pair<double, double>>;

struct training_state {
    std::filesystem::path file;  // where it was read from, for messages
    katachi::io::metadata_map run;  // the options that determine training, as metadata
    double input_mean = 0, input_std = 1;
    std::size_t epochs_done = 0, step_count = 0;
    std::size_t ranks = 1;  // the processes that trained it (--distributed): its shards depend on it
    curve_points loss_curve, epoch_loss, test_loss, train_accuracy, test_accuracy;
    katachi::io::tensor_map model, optimiser;
};

// <dir>/lenet_<face>_state.safetensors
std::filesystem::path training_state_path(const std::filesystem::path& dir, const std::string& face);

// The options that determine training, as the state's metadata stores them.
katachi::io::metadata_map run_metadata(const options& o);

// Writes the state atomically (a temporary file renamed over the target).
void save_training_state(const std::filesystem::path& path, const training_state& state);

// The state file in `dir` for --resume: the one of --face when given, else the only one there.
// Throws usage_error when there is none (or two and no --face).
std::filesystem::path find_training_state(const std::filesystem::path& dir, const options& o);

// Reads and checks a state file; any error is a checkpoint_error naming the file and the key.
training_state read_training_state(const std::filesystem::path& path);

// Sets the run's options in `o` from the state; an option given on the command line that differs
// from the saved run's throws usage_error naming the option and both values.
void apply_training_state(const training_state& state, options& o);

}  // namespace fashion_mnist
