// Parameter counts, summaries, optimiser views and checkpoint files.
#include "katachi/eager/modules/utilities.hpp"

#include <iomanip>
#include <sstream>

namespace katachi::eager::nn {

std::optional<std::size_t> parameter_count(const module& m) {
    std::size_t n = 0;
    for (const auto& [name, t] : m.named_parameters()) {
        if (t.is_uninitialized()) return std::nullopt;
        n += t.numel();
    }
    return n;
}

std::string parameter_count_text(const module& m) {
    const auto n = parameter_count(m);
    return n ? std::to_string(*n) : "uninitialized";
}

std::string summary(const module& m) {
    std::ostringstream os;
    std::size_t total = 0, pending = 0, tensors = 0;
    for (const auto& [name, t] : m.named_parameters()) {
        ++tensors;
        os << std::left << std::setw(28) << name << ' ';
        if (t.is_uninitialized()) {
            ++pending;
            os << "uninitialized\n";
        } else {
            os << std::setw(20) << t.shape().str() << ' ' << t.numel() << '\n';
            total += t.numel();
        }
    }
    os << m.type_name() << ": ";
    if (pending)
        os << "uninitialized parameters (" << pending << " of " << tensors
           << " tensors not yet materialised)\n";
    else
        os << total << " parameters\n";
    return os.str();
}

std::vector<optim::parameter<float>> optimiser_parameters(const module& m) {
    std::vector<optim::parameter<float>> out;
    for (const auto& entry : m.named_parameters()) {
        const tensor t = entry.second;  // a handle: the lambdas see the tensor as it is at each step
        // The optimiser asks for the value to write its step into it: an in-place write.
        out.push_back({entry.first,
                       [t] {
                           t.bump_version();
                           return t.value_span();
                       },
                       [t] { return t.grad_span(); }});
    }
    return out;
}

void save(const module& m, const std::filesystem::path& path) {
    io::save_safetensors(path, m.state_dict());
}

load_result load(module& m, const std::filesystem::path& path, bool strict) {
    return m.load_state_dict(io::load_safetensors(path).tensors, strict);
}

}  // namespace katachi::eager::nn
