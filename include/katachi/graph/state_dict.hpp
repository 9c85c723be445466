// katachi/graph/state_dict.hpp: a model's parameters and buffers under PyTorch's names, saved and
// loaded through katachi/io/safetensors.hpp.
//
// Not included by katachi/graph.hpp: a program that saves or loads includes this header too, and
// one that does not compiles none of the safetensors code.
//
// Names: "<node>.<tensor>": "0.weight", "3.bias" for a sequential (parameter-free layers count), node
// names for a dag ("conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked", int64, shape []).
// Loading checks every key and shape before it copies anything: on a mismatch it throws
// state_dict_error naming the key, the expected and the actual shape, and the model is unchanged.
// strict (the default, as in PyTorch) also refuses missing and unexpected keys; non-strict loads
// what matches by name and reports the rest.
#pragma once

#include <katachi/error.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <katachi/graph/model.hpp>
#include <katachi/io/safetensors.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace katachi::graph {

class state_dict_error : public std::runtime_error {
public:
    state_dict_error(std::string key, const std::string& what)
        : std::runtime_error(what), key_(std::move(key)) {}
    const std::string& key() const noexcept { return key_; }

private:
    std::string key_;
};

struct load_result {
    std::vector<std::string> missing_keys;     // expected by the model, absent from the file
    std::vector<std::string> unexpected_keys;  // in the file, unknown to the model
};

namespace detail {

// One entry of a state dict: where its values live in the model.
template <class T>
struct state_entry {
    std::string key;
    std::vector<std::size_t> shape;
    T* values = nullptr;              // parameters and buffers
    std::int64_t* counter = nullptr;  // num_batches_tracked
    std::size_t size() const {
        std::size_t n = 1;
        for (std::size_t d : shape) n *= d;
        return n;
    }
};

inline std::string shape_string(const std::vector<std::size_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

template <class Net, class T>
std::vector<state_entry<T>> state_entries(model<Net, T>& m) {
    std::vector<state_entry<T>> out;
    T* params = m.all_parameters().data();
    T* buffers = m.all_buffers().data();
    std::int64_t* counters = m.all_counters().data();
    detail::for_each_node<Net::node_count>([&]<std::size_t I>() {
        using N = typename Net::template node_at<I>;
        const std::string node(N::name.view());
        std::size_t at = Net::param_offsets[I];
        for (const tensor_spec& s : N::bind::parameters) {
            out.push_back({node + "." + s.name, {s.dims.begin(), s.dims.begin() + s.rank}, params + at});
            at += s.size();
        }
        at = Net::buffer_offsets[I];
        for (const tensor_spec& s : N::bind::buffers) {
            out.push_back({node + "." + s.name, {s.dims.begin(), s.dims.begin() + s.rank}, buffers + at});
            at += s.size();
        }
        if (N::bind::tracks_batches)
            out.push_back({node + ".num_batches_tracked", {}, nullptr, counters + Net::counter_offsets[I]});
    });
    return out;
}

}  // namespace detail

// The model's state dict as safetensors tensors (F32 or F64 values, I64 counters).
template <class Net, class T>
io::tensor_map state_dict(model<Net, T>& m) {
    io::tensor_map out;
    for (const auto& e : detail::state_entries(m)) {
        if (e.counter)
            out[e.key] = io::tensor::from<std::int64_t>(std::span<const std::int64_t>(e.counter, 1), {});
        else
            out[e.key] = io::tensor::from<T>(std::span<const T>(e.values, e.size()), e.shape);
    }
    return out;
}

// Loads `tensors` into the model; all or nothing.
template <class Net, class T>
load_result load_state_dict(model<Net, T>& m, const io::tensor_map& tensors, bool strict = true) {
    const auto entries = detail::state_entries(m);
    load_result result;
    std::vector<std::pair<const detail::state_entry<T>*, const io::tensor*>> plan;
    for (const auto& e : entries) {
        const auto it = tensors.find(e.key);
        if (it == tensors.end()) {
            result.missing_keys.push_back(e.key);
            continue;
        }
        const io::tensor& t = it->second;
        if (t.shape != e.shape)
            KATACHI_THROW(state_dict_error, 
                e.key, "load_state_dict: \"" + e.key + "\" has shape " + detail::shape_string(t.shape) +
                           " in the file, the model expects " + detail::shape_string(e.shape));
        const bool integer = t.type == io::dtype::i64;
        if (integer != (e.counter != nullptr))
            KATACHI_THROW(state_dict_error, e.key, "load_state_dict: \"" + e.key + "\" has dtype " +
                                              std::string(io::dtype_name(t.type)) + ", the model expects " +
                                              (e.counter ? "I64" : "a floating-point dtype"));
        plan.emplace_back(&e, &t);
    }
    for (const auto& [key, t] : tensors) {
        bool known = false;
        for (const auto& e : entries) known = known || e.key == key;
        if (!known) result.unexpected_keys.push_back(key);
    }
    if (strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty())) {
        std::string what = "load_state_dict (strict):";
        for (const auto& k : result.missing_keys) what += " missing \"" + k + "\";";
        for (const auto& k : result.unexpected_keys) what += " unexpected \"" + k + "\";";
        KATACHI_THROW(state_dict_error, 
            result.missing_keys.empty() ? result.unexpected_keys.front() : result.missing_keys.front(), what);
    }
    // Decode everything before the first write, so a decoding error leaves the model unchanged.
    std::vector<std::vector<T>> values(plan.size());
    std::vector<std::int64_t> counts(plan.size());
    for (std::size_t i = 0; i < plan.size(); ++i) {
        const io::tensor& t = *plan[i].second;
        if (plan[i].first->counter) {
            counts[i] = t.as<std::int64_t>().data()[0];
        } else if (t.type == io::dtype::f64) {
            const auto a = t.as<double>();
            values[i].assign(a.begin(), a.end());
        } else {
            const auto a = t.as<float>();
            values[i].assign(a.begin(), a.end());
        }
    }
    for (std::size_t i = 0; i < plan.size(); ++i) {
        if (plan[i].first->counter)
            *plan[i].first->counter = counts[i];
        else
            std::copy(values[i].begin(), values[i].end(), plan[i].first->values);
    }
    return result;
}

template <class Net, class T>
void save(model<Net, T>& m, const std::filesystem::path& path) {
    io::save_safetensors(path, state_dict(m));
}

template <class Net, class T>
load_result load(model<Net, T>& m, const std::filesystem::path& path, bool strict = true) {
    return load_state_dict(m, io::load_safetensors(path).tensors, strict);
}

}  // namespace katachi::graph
