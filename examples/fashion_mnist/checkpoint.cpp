// examples/fashion_mnist/checkpoint.cpp
#include "checkpoint.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstddef>
#include <exception>
#include <vector>

#include "options.hpp"

namespace fashion_mnist {

namespace {

std::string shape_text(const std::vector<std::size_t>& shape) {
    std::string out = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

// The leading layer number of a key ("10.weight" -> 10), or none.
std::optional<std::size_t> layer_number(const std::string& key) {
    std::size_t i = 0, n = 0;
    while (i < key.size() && std::isdigit(static_cast<unsigned char>(key[i])))
        n = n * 10 + static_cast<std::size_t>(key[i++] - '0');
    if (i == 0) return std::nullopt;
    return n;
}

// Within a layer, the order in which a layer registers its tensors.
int tensor_rank(const std::string& key) {
    const std::string name = key.substr(key.rfind('.') + 1);
    int rank = 0;
    for (const char* known : {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}) {
        if (name == known) return rank;
        ++rank;
    }
    return rank;
}

}  // namespace

bool natural_key_less(const std::string& a, const std::string& b) {
    const auto na = layer_number(a), nb = layer_number(b);
    if (na && nb && *na != *nb) return *na < *nb;
    if (na && nb && tensor_rank(a) != tensor_rank(b)) return tensor_rank(a) < tensor_rank(b);
    return a < b;
}

std::optional<std::string> architecture_mismatch(const katachi::io::tensor_map& model,
                                                 const katachi::io::tensor_map& file) {
    std::vector<std::string> keys;
    for (const auto& entry : model) keys.push_back(entry.first);
    std::sort(keys.begin(), keys.end(), natural_key_less);
    for (const std::string& key : keys) {
        const auto expected = model.at(key).shape;
        const auto it = file.find(key);
        if (it == file.end())
            return "the first mismatching key is \"" + key + "\": the LeNet has it with shape " +
                   shape_text(expected) + ", the checkpoint lacks it";
        if (it->second.shape != expected)
            return "the first mismatching key is \"" + key + "\": shape " + shape_text(it->second.shape) +
                   " in the checkpoint, " + shape_text(expected) + " in the LeNet";
    }
    std::vector<std::string> extra;
    for (const auto& [key, t] : file)
        if (!model.contains(key)) extra.push_back(key);
    if (extra.empty()) return std::nullopt;
    std::sort(extra.begin(), extra.end(), natural_key_less);
    return "the first mismatching key is \"" + extra.front() + "\": shape " +
           shape_text(file.at(extra.front()).shape) + " in the checkpoint, absent from the LeNet";
}

void save_checkpoint(const std::filesystem::path& path, face& model,
                     const katachi::io::metadata_map& metadata) {
    katachi::io::save_safetensors(path, model.state_dict(), metadata);
}

katachi::io::safetensors_file read_checkpoint(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw checkpoint_error("cannot read the checkpoint " + path.string() + ": no such file");
    try {
        return katachi::io::load_safetensors(path);
    } catch (const std::exception& e) {
        throw checkpoint_error("cannot read the checkpoint " + path.string() +
                               " (not a valid safetensors file): " + e.what());
    }
}

namespace {

template <class T>
std::optional<std::string> first_non_finite(const std::string& key, const katachi::io::tensor& t) {
    const auto values = t.as<T>();
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values.data()[i])) {
            char buffer[32];
            std::snprintf(buffer, sizeof buffer, "%g", static_cast<double>(values.data()[i]));
            return "tensor \"" + key + "\" holds " + buffer + " at element " + std::to_string(i);
        }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> non_finite(const katachi::io::tensor_map& tensors) {
    for (const auto& [key, t] : tensors) {
        std::optional<std::string> found;
        if (t.type == katachi::io::dtype::f64)
            found = first_non_finite<double>(key, t);
        else if (t.type != katachi::io::dtype::i64)
            found = first_non_finite<float>(key, t);
        if (found) return found;
    }
    return std::nullopt;
}

void load_checkpoint(face& model, const katachi::io::safetensors_file& file) {
    if (const auto why = architecture_mismatch(model.state_dict(), file.tensors))
        throw checkpoint_error("the checkpoint " + file.file +
                               " holds another architecture than this LeNet: " + *why);
    if (const auto why = non_finite(file.tensors))
        throw checkpoint_error("the checkpoint " + file.file + " has non-finite weights: " + *why);
    try {
        model.load_state_dict(file.tensors);
    } catch (const std::exception& e) {
        throw checkpoint_error("cannot load the checkpoint " + file.file + " into the " + model.name() +
                               " face: " + e.what());
    }
}

std::optional<double> metadata_number(const katachi::io::safetensors_file& file, const std::string& key) {
    const auto it = file.metadata.find(key);
    if (it == file.metadata.end()) return std::nullopt;
    if (const auto value = parse_finite(it->second)) return value;
    throw checkpoint_error("the checkpoint " + file.file + " has metadata " + key + " = \"" + it->second +
                           "\", not a finite number");
}

}  // namespace fashion_mnist
