// examples/fashion_mnist/options.cpp
#include "options.hpp"

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace fashion_mnist {

namespace {

std::size_t to_count(std::string_view option, const std::string& text, bool zero_allowed) {
    std::size_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || (!zero_allowed && value == 0))
        throw usage_error(std::string(option) + " takes a " + (zero_allowed ? "" : "positive ") +
                          "whole number, not '" + text + "'");
    return value;
}

double to_real(std::string_view option, const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(value >= 0))
        throw usage_error(std::string(option) + " takes a non-negative number, not '" + text + "'");
    return value;
}

}  // namespace

std::string usage() {
    return "usage: fashion_mnist [options]\n"
           "Trains katachi's LeNet on Fashion-MNIST and reports the test accuracy.\n"
           "  --face graph|eager      the compile-time graph (default) or define-by-run with lazy modules\n"
           "  --epochs N              passes over the training images (default 3)\n"
           "  --batch-size N          images per step (default 64)\n"
           "  --optimiser NAME        adam (default), adamw or sgd (also spelled --optimizer)\n"
           "  --lr X                  learning rate (default 0.002 for adam/adamw, 0.05 for sgd)\n"
           "  --momentum X            sgd momentum (default 0.9)\n"
           "  --weight-decay X        (default: the optimiser's own, 0 or 0.01 for adamw)\n"
           "  --schedule NAME         cosine (default: decays the rate to 0 over the run) or constant\n"
           "  --seed N                initialisation and shuffling (default 0)\n"
           "  --threads N             katachi's threads (katachi::set_num_threads; default 2)\n"
           "  --data DIR              the four IDX files (default /usr/share/datasets/fashion-mnist,\n"
           "                          from the Debian package dataset-fashion-mnist)\n"
           "  --out DIR               checkpoint, curves and DOT files (default ./katachi-out)\n"
           "  --train-subset N        train on the first N training images only\n"
           "  --test-subset N         evaluate on the first N test images only\n"
           "  --dot FILE              write the model's Graphviz graph (under --out when relative);\n"
           "                          with Graphviz's dot installed, an SVG beside it\n"
           "  --evaluate CHECKPOINT   evaluate a checkpoint (from either face) instead of training\n"
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
        if (i + 1 >= argc) throw usage_error("unknown option or missing value: " + std::string(arg));
        const std::string value = argv[++i];
        if (arg == "--face") {
            if (value != "graph" && value != "eager") throw usage_error("--face takes graph or eager");
            o.face = value;
        } else if (arg == "--epochs") {
            o.epochs = to_count(arg, value, false);
        } else if (arg == "--batch-size") {
            o.batch_size = to_count(arg, value, false);
        } else if (arg == "--optimiser" || arg == "--optimizer") {
            if (value != "sgd" && value != "adam" && value != "adamw")
                throw usage_error(std::string(arg) + " takes sgd, adam or adamw");
            o.optimiser.name = value;
        } else if (arg == "--lr") {
            o.optimiser.lr = to_real(arg, value);
            o.lr_given = true;
        } else if (arg == "--momentum") {
            o.optimiser.momentum = to_real(arg, value);
        } else if (arg == "--weight-decay") {
            o.optimiser.weight_decay = to_real(arg, value);
        } else if (arg == "--schedule") {
            if (value != "cosine" && value != "constant")
                throw usage_error("--schedule takes cosine or constant");
            o.schedule = value;
        } else if (arg == "--seed") {
            o.seed = to_count(arg, value, true);
        } else if (arg == "--threads") {
            o.threads = static_cast<int>(to_count(arg, value, false));
        } else if (arg == "--data") {
            o.data = value;
        } else if (arg == "--out") {
            o.out = value;
        } else if (arg == "--train-subset") {
            o.train_subset = to_count(arg, value, false);
        } else if (arg == "--test-subset") {
            o.test_subset = to_count(arg, value, false);
        } else if (arg == "--dot") {
            o.dot = value;
        } else if (arg == "--evaluate") {
            o.evaluate = value;
        } else {
            throw usage_error("unknown option " + std::string(arg));
        }
    }
    if (!o.lr_given) o.optimiser.lr = o.optimiser.name == "sgd" ? 0.05 : 2e-3;
    return o;
}

}  // namespace fashion_mnist
