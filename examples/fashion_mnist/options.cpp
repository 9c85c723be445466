// examples/fashion_mnist/options.cpp
#include "options.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <katachi/parallel.hpp>
#include <string_view>

namespace fashion_mnist {

namespace {

// katachi's most threads (set_num_threads caps there).
constexpr std::size_t max_threads = katachi::detail::max_threads;

std::size_t to_count(std::string_view option, const std::string& text, bool zero_allowed) {
    std::size_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || (!zero_allowed && value == 0))
        throw usage_error(std::string(option) + " takes a " + (zero_allowed ? "" : "positive ") +
                          "whole number, not '" + text + "'");
    return value;
}

// A finite number: the whole text, no inf or nan (strtod takes both), no trailing characters.
double to_finite(std::string_view option, const std::string& text) {
    if (const auto value = parse_finite(text)) return *value;
    throw usage_error(std::string(option) + " takes a finite number, not '" + text + "'");
}

}  // namespace

std::optional<double> parse_finite(const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || std::isspace(static_cast<unsigned char>(text.front())) ||
        end != text.c_str() + text.size() || !std::isfinite(value))
        return std::nullopt;
    return value;
}

namespace {

options::input_normalisation to_normalisation(const std::string& text) {
    const auto comma = text.find(',');
    const auto mean = comma == std::string::npos ? std::nullopt : parse_finite(text.substr(0, comma));
    const auto deviation = comma == std::string::npos ? std::nullopt : parse_finite(text.substr(comma + 1));
    if (!mean || !deviation || !(*deviation > 0))
        throw usage_error("--normalise takes MEAN,STD, two finite numbers with STD > 0 (such as "
                          "0.286,0.353), not '" + text + "'");
    return {*mean, *deviation};
}

}  // namespace

std::string usage() {
    return "usage: fashion_mnist [options]\n"
           "Trains katachi's LeNet on Fashion-MNIST and reports the test accuracy.\n"
           "  --face graph|eager      the compile-time graph (default) or define-by-run with lazy modules\n"
           "  --epochs N              passes over the training images (default 3)\n"
           "  --batch-size N          images per step (default 64)\n"
           "  --optimiser NAME        adam (default), adamw or sgd (also spelled --optimizer)\n"
           "  --lr X                  learning rate > 0 (default 0.002 for adam/adamw, 0.05 for sgd)\n"
           "  --momentum X            sgd momentum, 0 <= X < 1 (default 0.9)\n"
           "  --weight-decay X        >= 0 (default: the optimiser's own, 0 or 0.01 for adamw)\n"
           "  --schedule NAME         cosine (default: decays the rate to 0 over the run) or constant\n"
           "  --seed N                initialisation and shuffling (default 0)\n"
           "  --threads N             katachi's threads, 1 to 64 (katachi::set_num_threads; default 2)\n"
           "  --deterministic         the same weights on any number of threads\n"
           "                          (katachi::set_deterministic; a few percent slower)\n"
           "  --data DIR              the four IDX files (default /usr/share/datasets/fashion-mnist,\n"
           "                          from the Debian package dataset-fashion-mnist)\n"
           "  --out DIR               checkpoint, curves and DOT files (default ./katachi-out)\n"
           "  --train-subset N        train on the first N training images only\n"
           "  --test-subset N         evaluate on the first N test images only\n"
           "  --dot FILE              write the model's Graphviz graph (under --out when relative);\n"
           "                          with Graphviz's dot installed, an SVG beside it\n"
           "  --emit-graph FILE.hpp   eager face: write the model's graph-face type and key mapping\n"
           "                          (nn::graph_source; under --out when relative) after training\n"
           "                          or after loading the --evaluate checkpoint\n"
           "  --evaluate CHECKPOINT   evaluate a checkpoint (from either face) instead of training\n"
           "  --normalise MEAN,STD    the input normalisation (pixel - MEAN) / STD (also spelled\n"
           "                          --normalize); default: the checkpoint's, else measured on the\n"
           "                          training images\n"
           "  --resume DIR            continue the run whose training state (written to --out after\n"
           "                          every epoch) is in DIR, from its next epoch; its options are\n"
           "                          kept (only --threads, --deterministic, --out, --data, --dot,\n"
           "                          --emit-graph and --distributed may be given)\n"
           "                          and the outputs go to DIR unless --out is given\n"
           "  --distributed           data-parallel training over MPI, run as\n"
           "                          mpirun -np N build/examples/fashion_mnist --distributed: each rank\n"
           "                          trains on its shard of every epoch with --batch-size / N images\n"
           "                          per step (the same steps as one process), one thread each unless\n"
           "                          --threads is given; rank 0 prints and writes the files\n"
           "  --help\n";
}

options parse_options(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            o.help = true;
            continue;
        }
        if (arg == "--deterministic") {
            o.deterministic = true;
            o.given.insert("--deterministic");
            continue;
        }
        if (arg == "--distributed") {
            o.distributed = true;
            o.given.insert("--distributed");
            continue;
        }
        if (i + 1 >= argc) throw usage_error("unknown option or missing value: " + std::string(arg));
        const std::string value = argv[++i];
        std::string name(arg);
        if (name == "--optimizer") name = "--optimiser";
        if (name == "--normalize") name = "--normalise";
        if (name == "--face") {
            if (value != "graph" && value != "eager") throw usage_error("--face takes graph or eager");
            o.face = value;
        } else if (name == "--epochs") {
            o.epochs = to_count(arg, value, false);
        } else if (name == "--batch-size") {
            o.batch_size = to_count(arg, value, false);
        } else if (name == "--optimiser") {
            if (value != "sgd" && value != "adam" && value != "adamw")
                throw usage_error(std::string(arg) + " takes sgd, adam or adamw");
            o.optimiser.name = value;
        } else if (name == "--lr") {
            o.optimiser.lr = to_finite(arg, value);
            if (!(o.optimiser.lr > 0))
                throw usage_error("--lr takes a learning rate above 0, not '" + value + "'");
            o.lr_given = true;
        } else if (name == "--momentum") {
            o.optimiser.momentum = to_finite(arg, value);
            if (!(o.optimiser.momentum >= 0 && o.optimiser.momentum < 1))
                throw usage_error("--momentum takes a number from 0 up to (not including) 1, not '" + value +
                                  "'");
        } else if (name == "--weight-decay") {
            o.optimiser.weight_decay = to_finite(arg, value);
            if (!(*o.optimiser.weight_decay >= 0))
                throw usage_error("--weight-decay takes a number of at least 0, not '" + value + "'");
        } else if (name == "--schedule") {
            if (value != "cosine" && value != "constant")
                throw usage_error("--schedule takes cosine or constant");
            o.schedule = value;
        } else if (name == "--seed") {
            o.seed = to_count(arg, value, true);
        } else if (name == "--threads") {
            std::size_t n = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > max_threads)
                throw usage_error("--threads takes a whole number from 1 to " + std::to_string(max_threads) +
                                  " (katachi's most), not '" + value + "'");
            o.threads = static_cast<int>(n);
        } else if (name == "--data") {
            o.data = value;
        } else if (name == "--out") {
            o.out = value;
        } else if (name == "--train-subset") {
            o.train_subset = to_count(arg, value, false);
        } else if (name == "--test-subset") {
            o.test_subset = to_count(arg, value, false);
        } else if (name == "--dot") {
            o.dot = value;
        } else if (name == "--emit-graph") {
            o.emit_graph = value;
        } else if (name == "--evaluate") {
            o.evaluate = value;
        } else if (name == "--resume") {
            o.resume = value;
        } else if (name == "--normalise") {
            o.normalise = to_normalisation(value);
        } else {
            throw usage_error("unknown option " + std::string(arg));
        }
        o.given.insert(name);
    }
    if (!o.evaluate.empty() && !o.resume.empty())
        throw usage_error("--evaluate and --resume cannot be given together");
    if (!o.lr_given) o.optimiser.lr = o.optimiser.name == "sgd" ? 0.05 : 2e-3;
    return o;
}

}  // namespace fashion_mnist
