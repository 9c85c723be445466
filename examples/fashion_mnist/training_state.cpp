// examples/fashion_mnist/training_state.cpp
#include "training_state.hpp"

#include <bit>
#include <charconv>
#include <exception>
#include <optional>
#include <span>
#include <system_error>

#include "checkpoint.hpp"

namespace fashion_mnist {

namespace io = katachi::io;
namespace fs = std::filesystem;

namespace {

constexpr const char* kind = "katachi fashion_mnist training state 2";  // 2: no order, a test loss

// The shortest text that reads back as the same double.
std::string real_text(double v) {
    char buffer[64];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
    return std::string(buffer, ec == std::errc() ? end : buffer);
}

io::tensor curve_tensor(const curve_points& points) {
    std::vector<double> values;
    for (const auto& [x, y] : points) {
        values.push_back(x);
        values.push_back(y);
    }
    return io::tensor::from<double>(std::span<const double>(values), {points.size(), 2});
}

// The options of the run and the metadata key each is saved under, with its text in `o`.
struct run_option {
    const char* option;
    const char* key;
    std::string (*text)(const options&);
};

const std::vector<run_option>& run_options() {
    static const std::vector<run_option> table{
        {"--face", "face", [](const options& o) { return o.face; }},
        {"--epochs", "epochs", [](const options& o) { return std::to_string(o.epochs); }},
        {"--batch-size", "batch_size", [](const options& o) { return std::to_string(o.batch_size); }},
        {"--optimiser", "optimiser", [](const options& o) { return o.optimiser.name; }},
        {"--lr", "lr", [](const options& o) { return real_text(o.optimiser.lr); }},
        {"--momentum", "momentum", [](const options& o) { return real_text(o.optimiser.momentum); }},
        {"--weight-decay", "weight_decay",
         [](const options& o) {
             return o.optimiser.weight_decay ? real_text(*o.optimiser.weight_decay)
                                             : std::string("default (the optimiser's own)");
         }},
        {"--schedule", "schedule", [](const options& o) { return o.schedule; }},
        {"--seed", "seed", [](const options& o) { return std::to_string(o.seed); }},
        {"--train-subset", "train_subset",
         [](const options& o) { return o.train_subset ? std::to_string(o.train_subset) : std::string("all"); }},
        {"--test-subset", "test_subset",
         [](const options& o) { return o.test_subset ? std::to_string(o.test_subset) : std::string("all"); }},
    };
    return table;
}

class reader {
public:
    explicit reader(const io::safetensors_file& f) : f_(f) {}

    [[noreturn]] void fail(const std::string& key, const std::string& why) const {
        throw checkpoint_error("the training state " + f_.file + ": \"" + key + "\" " + why);
    }

    const std::string& text(const std::string& key) const {
        const auto it = f_.metadata.find(key);
        if (it == f_.metadata.end()) fail(key, "is missing from its metadata");
        return it->second;
    }
    std::size_t count(const std::string& key) const {
        const std::string& t = text(key);
        std::size_t v = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || end != t.data() + t.size() || t.empty())
            fail(key, "is \"" + t + "\", not a whole number");
        return v;
    }
    double real(const std::string& key) const {
        const std::string& t = text(key);
        const auto v = parse_finite(t);
        if (!v) fail(key, "is \"" + t + "\", not a finite number");
        return *v;
    }
    template <class T>
    std::vector<T> values(const std::string& key, std::size_t rank) const {
        const auto it = f_.tensors.find(key);
        if (it == f_.tensors.end()) fail(key, "is missing");
        if (it->second.shape.size() != rank) fail(key, "has rank " + std::to_string(it->second.shape.size()));
        try {
            const auto a = it->second.as<T>();
            return {a.begin(), a.end()};
        } catch (const std::exception& e) {
            fail(key, std::string("cannot be read: ") + e.what());
        }
    }
    curve_points curve(const std::string& key) const {
        if (!f_.tensors.contains(key)) return {};
        const auto v = values<double>(key, 2);
        if (f_.tensors.at(key).shape[1] != 2) fail(key, "is not [points, 2]");
        curve_points points;
        for (std::size_t i = 0; i + 1 < v.size(); i += 2) points.emplace_back(v[i], v[i + 1]);
        return points;
    }

private:
    const io::safetensors_file& f_;
};

}  // namespace

fs::path training_state_path(const fs::path& dir, const std::string& face) {
    return dir / ("lenet_" + face + "_state.safetensors");
}

io::metadata_map run_metadata(const options& o) {
    io::metadata_map m;
    for (const run_option& r : run_options()) m[r.key] = r.text(o);
    return m;
}

void save_training_state(const fs::path& path, const training_state& s) {
    io::tensor_map tensors;
    for (const auto& [key, t] : s.model) tensors.emplace("model." + key, t);
    for (const auto& [key, t] : s.optimiser) tensors.emplace("optimiser." + key, t);
    const std::pair<const char*, const curve_points*> curves[] = {{"curve.loss", &s.loss_curve},
                                                                  {"curve.epoch_loss", &s.epoch_loss},
                                                                  {"curve.test_loss", &s.test_loss},
                                                                  {"curve.train_accuracy", &s.train_accuracy},
                                                                  {"curve.test_accuracy", &s.test_accuracy}};
    for (const auto& [key, points] : curves)
        if (!points->empty()) tensors.emplace(key, curve_tensor(*points));

    io::metadata_map meta = s.run;
    meta["kind"] = kind;
    meta["input_mean"] = real_text(s.input_mean);
    meta["input_std"] = real_text(s.input_std);
    meta["epochs_done"] = std::to_string(s.epochs_done);
    meta["step_count"] = std::to_string(s.step_count);
    meta["ranks"] = std::to_string(s.ranks);
    io::save_safetensors(path, tensors, meta);
}

fs::path find_training_state(const fs::path& dir, const options& o) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw usage_error("--resume " + dir.string() + ": no such folder");
    if (o.given.contains("--face")) {
        const fs::path p = training_state_path(dir, o.face);
        if (fs::exists(p, ec)) return p;
        const fs::path other = training_state_path(dir, o.face == "graph" ? "eager" : "graph");
        if (fs::exists(other, ec))
            throw usage_error("--face " + o.face + " contradicts the run in " + dir.string() + ", which has " +
                              "face " + (o.face == "graph" ? "eager" : "graph") + " (" + other.string() + ")");
        throw usage_error("--resume " + dir.string() + ": no training state there (" + p.filename().string() +
                          " is written after every epoch)");
    }
    const fs::path graph = training_state_path(dir, "graph"), eager = training_state_path(dir, "eager");
    const bool has_graph = fs::exists(graph, ec), has_eager = fs::exists(eager, ec);
    if (has_graph && has_eager)
        throw usage_error("--resume " + dir.string() + " holds the training states of both faces: give --face");
    if (!has_graph && !has_eager)
        throw usage_error("--resume " + dir.string() +
                          ": no training state there (lenet_<face>_state.safetensors is written after "
                          "every epoch)");
    return has_graph ? graph : eager;
}

training_state read_training_state(const fs::path& path) {
    const io::safetensors_file f = read_checkpoint(path);
    const reader r(f);
    if (r.text("kind") != kind) r.fail("kind", "is \"" + r.text("kind") + "\", not \"" + kind + "\"");
    training_state s;
    s.file = path;
    for (const run_option& o : run_options()) s.run[o.key] = r.text(o.key);
    s.input_mean = r.real("input_mean");
    s.input_std = r.real("input_std");
    if (!(s.input_std > 0)) r.fail("input_std", "is \"" + r.text("input_std") + "\", not above 0");
    s.epochs_done = r.count("epochs_done");
    s.step_count = r.count("step_count");
    s.ranks = f.metadata.contains("ranks") ? r.count("ranks") : 1;
    if (s.ranks == 0) r.fail("ranks", "is 0");
    s.loss_curve = r.curve("curve.loss");
    s.epoch_loss = r.curve("curve.epoch_loss");
    s.test_loss = r.curve("curve.test_loss");
    s.train_accuracy = r.curve("curve.train_accuracy");
    s.test_accuracy = r.curve("curve.test_accuracy");
    for (const auto& [key, t] : f.tensors) {
        if (key.starts_with("model."))
            s.model.emplace(key.substr(6), t);
        else if (key.starts_with("optimiser."))
            s.optimiser.emplace(key.substr(10), t);
    }
    if (const auto why = non_finite(s.model))
        throw checkpoint_error("the training state " + f.file + " has non-finite weights: " + *why);
    return s;
}

void apply_training_state(const training_state& s, options& o) {
    const auto contradiction = [&](const std::string& option, const std::string& given, const std::string& saved) {
        throw usage_error(option + " " + given + " contradicts the run being resumed (" + s.file.string() +
                          "), which has " + option + " " + saved + "; leave " + option +
                          " out to continue it (only --threads, --deterministic, --out, --data, --dot, --emit-graph and "
                          "--distributed may be given)");
    };
    for (const run_option& r : run_options()) {
        const std::string& saved = s.run.at(r.key);
        if (o.given.contains(r.option) && r.text(o) != saved) contradiction(r.option, r.text(o), saved);
    }
    if (o.normalise && (o.normalise->mean != s.input_mean || o.normalise->std != s.input_std))
        contradiction("--normalise", real_text(o.normalise->mean) + "," + real_text(o.normalise->std),
                      real_text(s.input_mean) + "," + real_text(s.input_std));

    // The saved values, read as the command line would read them.
    std::vector<std::string> args{"fashion_mnist"};
    for (const run_option& r : run_options()) {
        const std::string& saved = s.run.at(r.key);
        if ((std::string(r.key) == "weight_decay" && saved.starts_with("default")) ||
            (std::string(r.key).ends_with("_subset") && saved == "all"))
            continue;
        args.insert(args.end(), {r.option, saved});
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    options saved;
    try {
        saved = parse_options(static_cast<int>(argv.size()), argv.data());
    } catch (const usage_error& e) {
        throw checkpoint_error("the training state " + s.file.string() + " holds an option its run cannot have had: " +
                               e.what());
    }
    o.face = saved.face;
    o.epochs = saved.epochs;
    o.batch_size = saved.batch_size;
    o.optimiser = saved.optimiser;
    o.lr_given = true;
    o.schedule = saved.schedule;
    o.seed = saved.seed;
    o.train_subset = saved.train_subset;
    o.test_subset = saved.test_subset;
    o.normalise = options::input_normalisation{s.input_mean, s.input_std};
}

}  // namespace fashion_mnist
