// examples/fashion_mnist/checkpoint.hpp: the demo's checkpoints, and why one does not fit.
//
// A checkpoint is the model's state dict (PyTorch's keys) in a safetensors file, with metadata:
// the face that trained it, the input normalisation, the epochs and the test accuracy. Either face
// loads it. Before anything is copied, the file's keys and shapes are compared with the model's,
// and a checkpoint of another architecture is refused with the first key that does not match.
#pragma once

#include <filesystem>
#include <katachi/io/safetensors.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "face.hpp"

namespace fashion_mnist {

class checkpoint_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Orders state-dict keys as a model registers them: by layer number ("3.weight" before
// "10.weight"), then weight, bias, running statistics.
bool natural_key_less(const std::string& a, const std::string& b);

// Nothing when `file` holds exactly the keys and shapes of `model`; otherwise a sentence naming the
// first mismatching key (in the model's order) with both shapes, or the first extra key.
std::optional<std::string> architecture_mismatch(const katachi::io::tensor_map& model,
                                                 const katachi::io::tensor_map& file);

// Writes the model's state dict and the metadata atomically.
void save_checkpoint(const std::filesystem::path& path, face& model,
                     const katachi::io::metadata_map& metadata);

// Reads `path`; a file that cannot be read or is not a valid safetensors file throws
// checkpoint_error naming it.
katachi::io::safetensors_file read_checkpoint(const std::filesystem::path& path);

// Nothing when every floating-point element of `tensors` is finite; otherwise a sentence naming
// the first tensor (in key order) holding a NaN or an infinity, the value and its element index.
std::optional<std::string> non_finite(const katachi::io::tensor_map& tensors);

// Loads a checkpoint read by read_checkpoint into `model`, after checking its architecture and
// that every weight is finite; any error is a checkpoint_error naming the file (and the key).
void load_checkpoint(face& model, const katachi::io::safetensors_file& file);

// The metadata entry `key` of `file` as a finite number (the whole string); nothing when the file
// has no such entry; checkpoint_error naming the file, the key and the value otherwise.
std::optional<double> metadata_number(const katachi::io::safetensors_file& file, const std::string& key);

}  // namespace fashion_mnist
