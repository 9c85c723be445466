// Suite `examples`: the Fashion-MNIST demo (examples/fashion_mnist.cpp) run as a user runs it, on
// a subset (2,000 training and 500 test images, one epoch) so that it takes seconds: its report,
// its outputs, a checkpoint crossing from one face to the other, and its errors.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <katachi/io/safetensors.hpp>
#include <katachi/random.hpp>
#include <limits>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "../../examples/fashion_mnist/report.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace {

struct run_result {
    int status = -1;     // the exit status
    std::string output;  // stdout and stderr
};

run_result run(const std::string& arguments) {
    const std::string command = std::string(KATACHI_FASHION_MNIST_EXE) + " " + arguments + " 2>&1";
    run_result r;
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) r.output.append(buffer, n);
    const int status = ::pclose(pipe);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A folder of its own for this test process, removed at exit.
const fs::path& scratch() {
    struct folder {
        fs::path path =
            fs::temp_directory_path() / ("katachi-fashion-mnist-test-" + std::to_string(::getpid()));
        folder() { fs::create_directories(path); }
        ~folder() {
            std::error_code ignored;
            fs::remove_all(path, ignored);
        }
    };
    static const folder f;
    return f.path;
}

const std::string subset = " --train-subset 2000 --test-subset 500 --threads 1";

// One short training run per face, shared by the test cases; its outputs go to scratch()/<face>.
const run_result& trained(const std::string& face) {
    static std::map<std::string, run_result> runs;
    if (!runs.contains(face)) {
        const fs::path out = scratch() / face;
        runs[face] = run("--face " + face + " --epochs 1" + subset + " --out " + out.string() + " --dot " +
                         face + ".dot");
    }
    const run_result& r = runs.at(face);
    INFO(r.output);
    REQUIRE(r.status == 0);
    return r;
}

// The fraction on the final report's line "test accuracy 0.7380 (369 of 500 test images)".
std::string final_accuracy(const std::string& output) {
    std::smatch m;
    const bool found = std::regex_search(
        output, m, std::regex("\ntest accuracy ([0-9.]+) \\(([0-9]+) of ([0-9]+) test images\\)"));
    INFO(output);
    REQUIRE(found);
    CHECK(m[3].str() == "500");
    return m[1].str();
}

// An IDX file of unsigned bytes: the magic 0 0 8 rank, the big-endian dimensions, the bytes. Plain
// bytes under the .gz names the demo expects: the reader tells gzip from plain by the magic.
void write_idx(const fs::path& path, const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    const char magic[4] = {0, 0, 8, static_cast<char>(dims.size())};
    out.write(magic, 4);
    for (std::uint32_t d : dims) {
        const char be[4] = {static_cast<char>(d >> 24), static_cast<char>(d >> 16), static_cast<char>(d >> 8),
                            static_cast<char>(d)};
        out.write(be, 4);
    }
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

// A hand-made data folder: `train` and `test` images of size x size, labels i % 10, with one
// training label replaced when bad_label is given.
fs::path make_data(const std::string& name, std::uint32_t train, std::uint32_t test, std::uint32_t size = 28,
                   int bad_train_label = -1, int bad_test_label = -1) {
    const fs::path dir = scratch() / name;
    fs::create_directories(dir);
    const auto set = [&](const char* images, const char* labels, std::uint32_t n, int bad_label) {
        std::vector<std::uint8_t> pixels(std::size_t{n} * size * size), classes(n);
        for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 37 % 251);
        for (std::size_t i = 0; i < n; ++i) classes[i] = static_cast<std::uint8_t>(i % 10);
        if (bad_label >= 0) classes[3] = static_cast<std::uint8_t>(bad_label);
        write_idx(dir / images, {n, size, size}, pixels);
        write_idx(dir / labels, {n}, classes);
    };
    set("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", train, bad_train_label);
    set("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", test, bad_test_label);
    return dir;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Started in the background like a user's shell does, its output discarded.
pid_t spawn(const std::vector<std::string>& arguments) {
    std::vector<std::string> args{KATACHI_FASHION_MNIST_EXE};
    args.insert(args.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int error = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(error == 0);
    return pid;
}

}  // namespace

TEST_CASE("the demo trains the graph-face LeNet on a subset and reports its test accuracy",
          "[examples][fashion_mnist]") {
    const std::string& out = trained("graph").output;
    INFO(out);
    // The summary the graph face computes at compile time, before training.
    CHECK(out.find("linear<128>") != std::string::npos);
    CHECK(out.find("shape<64, 7, 7>") != std::string::npos);
    CHECK(out.find("total parameters 421642") != std::string::npos);
    CHECK(std::regex_search(out, std::regex("epoch 1/1: test accuracy 0\\.[0-9]{4}")));
    // 32 steps of adam take a LeNet far above the 0.1 of chance.
    CHECK(std::stod(final_accuracy(out)) >= 0.6);
    CHECK(out.find("confusion matrix") != std::string::npos);
    CHECK(out.find("Ankle boot") != std::string::npos);
}

TEST_CASE("the graph-face run writes its checkpoint, curves and forward and backward graphs under --out",
          "[examples][fashion_mnist]") {
    const std::string& out = trained("graph").output;
    const fs::path dir = scratch() / "graph";
    CHECK(out.find("checkpoint: " + (dir / "lenet_graph.safetensors").string()) != std::string::npos);
    CHECK(out.find("curves: " + (dir / "lenet_graph_curves.svg").string()) != std::string::npos);
    const auto checkpoint = katachi::io::load_safetensors(dir / "lenet_graph.safetensors");
    CHECK(checkpoint.tensors.size() == 8);
    CHECK(checkpoint.at("7.weight").shape == std::vector<std::size_t>{128, 3136});
    CHECK(checkpoint.metadata.at("face") == "graph");
    const std::string svg = read_file(dir / "lenet_graph_curves.svg");
    CHECK(svg.rfind("<svg", 0) == 0);
    CHECK(svg.find("test accuracy") != std::string::npos);
    // The loss chart: each twentieth of an epoch, the epoch's mean and the test loss, each its own
    // colour (blue shades for training, green for test) and legend entry.
    for (const char* label : {"training loss (mean of each 1/20 epoch)", "training loss (epoch mean)",
                              "test loss (after the epoch)"})
        CHECK(svg.find(label) != std::string::npos);
    for (const char* colour : {"#9ecae1", "#08519c", "#2ca02c"}) CHECK(svg.find(colour) != std::string::npos);
    CHECK(std::regex_search(out, std::regex("epoch 1/1: test accuracy 0\\.[0-9]{4}, test loss [0-9]+\\.[0-9]{4}")));
    // The progress line says what its loss is, and its ETA covers the whole run.
    CHECK(std::regex_search(out, std::regex("mean loss this epoch [0-9.]+ .* run ETA [0-9]+s")));
    const std::string dot = read_file(dir / "graph.dot");
    CHECK(dot.rfind("digraph", 0) == 0);
    CHECK(dot.find("cluster_forward") != std::string::npos);
    CHECK(dot.find("cluster_backward") != std::string::npos);
    CHECK(dot.find("d 7.weight") != std::string::npos);
    // With Debian's graphviz, a picture beside it; without, a hint naming the package.
    if (std::system("command -v dot >/dev/null 2>&1") == 0)
        CHECK(read_file(dir / "graph.svg").find("<svg") != std::string::npos);
    else
        CHECK(out.find("install the Debian package graphviz") != std::string::npos);
}

TEST_CASE("the demo trains the eager-face LeNet from lazy modules and draws its recorded tape",
          "[examples][fashion_mnist]") {
    const std::string& out = trained("eager").output;
    INFO(out);
    CHECK(out.find("katachi eager face") != std::string::npos);
    CHECK(out.find("in_features=3136") != std::string::npos);  // materialised from the input shape
    CHECK(out.find("total parameters 421642") != std::string::npos);
    CHECK(std::stod(final_accuracy(out)) >= 0.6);
    const std::string dot = read_file(scratch() / "eager" / "eager.dot");
    CHECK(dot.rfind("digraph tape", 0) == 0);
    for (const char* op : {"cross_entropy", "conv2d", "max_pool2d", "linear", "\"0.weight\"", "\"9.bias\""}) {
        INFO(op);
        CHECK(dot.find(op) != std::string::npos);
    }
    CHECK(fs::exists(scratch() / "eager" / "lenet_eager.safetensors"));
}

TEST_CASE("a checkpoint trained in one face gives the same test accuracy when evaluated in the other",
          "[examples][fashion_mnist]") {
    for (const auto& [from, to] :
         std::vector<std::pair<std::string, std::string>>{{"graph", "eager"}, {"eager", "graph"}}) {
        const std::string trained_accuracy = final_accuracy(trained(from).output);
        const fs::path checkpoint = scratch() / from / ("lenet_" + from + ".safetensors");
        // Another seed: the evaluating model starts from other weights, which the load replaces.
        const run_result r = run("--face " + to + " --seed 7 --evaluate " + checkpoint.string() + subset +
                                 " --out " + (scratch() / "evaluated").string());
        INFO(from << " -> " << to << ":\n" << r.output);
        REQUIRE(r.status == 0);
        CHECK(r.output.find("trained by the " + from + " face") != std::string::npos);
        CHECK(final_accuracy(r.output) == trained_accuracy);
    }
}

TEST_CASE("a missing data set is reported with the Debian package that provides it",
          "[examples][fashion_mnist]") {
    const run_result r = run("--data " + (scratch() / "no-such-folder").string());
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("dataset-fashion-mnist") != std::string::npos);
}

TEST_CASE("an unreadable checkpoint is reported with its path", "[examples][fashion_mnist]") {
    const fs::path missing = scratch() / "missing.safetensors";
    run_result r = run("--evaluate " + missing.string() + subset);
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("cannot read the checkpoint " + missing.string()) != std::string::npos);

    const fs::path garbage = scratch() / "garbage.safetensors";
    std::ofstream(garbage) << "this is not a safetensors file";
    r = run("--evaluate " + garbage.string() + subset);
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("cannot read the checkpoint " + garbage.string()) != std::string::npos);
    CHECK(r.output.find("not a valid safetensors file") != std::string::npos);
}

TEST_CASE("a checkpoint of another architecture is refused, naming the first mismatching key and both shapes",
          "[examples][fashion_mnist]") {
    // An MLP 784-256-10's state dict, as PyTorch's nn.Sequential(Flatten, Linear, ReLU, Linear) keys it.
    const auto zeros = [](std::vector<std::size_t> shape) {
        std::size_t n = 1;
        for (std::size_t d : shape) n *= d;
        const std::vector<float> values(n);
        return katachi::io::tensor::from<float>(values, std::move(shape));
    };
    const fs::path mlp = scratch() / "mlp.safetensors";
    katachi::io::save_safetensors(mlp, {{"1.weight", zeros({256, 784})},
                                        {"1.bias", zeros({256})},
                                        {"3.weight", zeros({10, 256})},
                                        {"3.bias", zeros({10})}});
    for (const char* face : {"graph", "eager"}) {
        const run_result r = run(std::string("--face ") + face + " --evaluate " + mlp.string() + subset);
        INFO(r.output);
        CHECK(r.status == 1);
        CHECK(r.output.find("another architecture") != std::string::npos);
        CHECK(r.output.find("\"0.weight\"") != std::string::npos);
        CHECK(r.output.find("[32, 1, 3, 3]") != std::string::npos);
    }

    // Same keys, one shape changed: the message shows the file's shape and the model's.
    trained("graph");
    const auto lenet = katachi::io::load_safetensors(scratch() / "graph" / "lenet_graph.safetensors");
    auto wider = lenet.tensors;
    wider["9.weight"] = zeros({12, 128});
    const fs::path twelve = scratch() / "twelve_classes.safetensors";
    katachi::io::save_safetensors(twelve, wider);
    const run_result r = run("--evaluate " + twelve.string() + subset);
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("\"9.weight\": shape [12, 128] in the checkpoint, [10, 128] in the LeNet") !=
          std::string::npos);
}

TEST_CASE("an unknown option prints the usage and exits with status 2", "[examples][fashion_mnist]") {
    const run_result r = run("--epoch 3");
    INFO(r.output);
    CHECK(r.status == 2);
    CHECK(r.output.find("unknown option --epoch") != std::string::npos);
    CHECK(r.output.find("--face graph|eager") != std::string::npos);
}

// ---- bad input: refused with a message naming what and where, before any training -----------

TEST_CASE("the confusion matrix refuses a label or prediction that is not a class, naming it",
          "[examples][fashion_mnist]") {
    katachi::data::confusion_matrix m(10);
    m.add(9, 0);
    CHECK(m.count(9, 0) == 1);
    for (const auto& [label, predicted, named] : std::vector<std::tuple<std::int64_t, std::int64_t, std::string>>{
             {255, 0, "label 255"}, {10, 0, "label 10"}, {-1, 3, "label -1"}, {3, 10, "prediction 10"}}) {
        try {
            m.add(label, predicted);
            FAIL("no exception for " << named);
        } catch (const std::out_of_range& e) {
            CHECK(contains(e.what(), named));
        }
    }
    CHECK(m.count(9, 0) == 1);  // nothing else counted
}

TEST_CASE("a label outside 0 to 9 in the data is refused before training, naming the file, index and label",
          "[examples][fashion_mnist]") {
    // (Folder names without digits: the label must be found in the message, not in a path.)
    const fs::path train_bad = make_data("bad-training-label", 64, 32, 28, 255);
    run_result r = run("--data " + train_bad.string() + " --epochs 1 --out " + (scratch() / "label-out").string());
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.output, "train-labels-idx1-ubyte.gz"));
    CHECK(contains(r.output, "255"));
    CHECK(!contains(r.output, "epoch 1/"));

    const fs::path test_bad = make_data("bad-test-label", 64, 32, 28, -1, 10);
    r = run("--data " + test_bad.string() + " --epochs 1 --out " + (scratch() / "label-out").string());
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.output, "t10k-labels-idx1-ubyte.gz"));
    CHECK(std::regex_search(r.output, std::regex("\\b10\\b")));
    CHECK(!contains(r.output, "epoch 1/"));
}

TEST_CASE("images other than 28x28 are refused before training, naming the file and their size",
          "[examples][fashion_mnist]") {
    const fs::path small = make_data("small-images", 64, 32, 20);
    const run_result r = run("--data " + small.string() + " --epochs 1 --out " + (scratch() / "size-out").string());
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.output, "train-images-idx3-ubyte.gz"));
    CHECK(std::regex_search(r.output, std::regex("20 ?[x,] ?20")));
    CHECK(!contains(r.output, "epoch 1/"));
}

TEST_CASE("an empty training or test set is refused instead of reporting 0 of 0", "[examples][fashion_mnist]") {
    const fs::path no_train = make_data("empty-train", 0, 32);
    run_result r = run("--data " + no_train.string() + " --train-subset 100 --out " + (scratch() / "empty-out").string());
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.output, "train-images-idx3-ubyte.gz"));
    CHECK(std::regex_search(r.output, std::regex("no images|0 images|empty")));
    CHECK(!contains(r.output, "0 of 0"));

    const fs::path no_test = make_data("empty-test", 64, 0);
    r = run("--data " + no_test.string() + " --out " + (scratch() / "empty-out").string());
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.output, "t10k-images-idx3-ubyte.gz"));
    CHECK(std::regex_search(r.output, std::regex("no images|0 images|empty")));
    CHECK(!contains(r.output, "0 of 0"));
}

TEST_CASE("a checkpoint with a non-finite weight is refused, naming the tensor", "[examples][fashion_mnist]") {
    trained("graph");
    const auto lenet = katachi::io::load_safetensors(scratch() / "graph" / "lenet_graph.safetensors");
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        auto tensors = lenet.tensors;
        auto values = tensors.at("7.weight").as<float>();
        values(5, 9) = bad;
        tensors["7.weight"] = katachi::io::tensor::from_xt(values);
        const fs::path file = scratch() / "non_finite.safetensors";
        katachi::io::save_safetensors(file, tensors, lenet.metadata);
        for (const char* face : {"graph", "eager"}) {
            const run_result r = run(std::string("--face ") + face + " --evaluate " + file.string() + subset);
            INFO(face << ": " << r.output);
            CHECK(r.status == 1);
            CHECK(contains(r.output, file.string()));
            CHECK(contains(r.output, "\"7.weight\""));
            CHECK(contains(r.output, std::isnan(bad) ? "nan" : "inf"));
            CHECK(!contains(r.output, "test accuracy"));
        }
    }
}

TEST_CASE("bad normalisation metadata in a checkpoint is refused, naming the key and the value",
          "[examples][fashion_mnist]") {
    trained("graph");
    const auto lenet = katachi::io::load_safetensors(scratch() / "graph" / "lenet_graph.safetensors");
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{{"input_std", "0"},
                                                                                   {"input_std", "-0.3"},
                                                                                   {"input_std", "nan"},
                                                                                   {"input_std", "abc"},
                                                                                   {"input_std", "0.35x"},
                                                                                   {"input_mean", "inf"},
                                                                                   {"input_mean", ""}}) {
        auto metadata = lenet.metadata;
        metadata[key] = value;
        const fs::path file = scratch() / "bad_metadata.safetensors";
        katachi::io::save_safetensors(file, lenet.tensors, metadata);
        const run_result r = run("--evaluate " + file.string() + subset);
        INFO(key << " = " << value << ": " << r.output);
        CHECK(r.status == 1);
        CHECK(contains(r.output, key + " = \"" + value + "\""));
        CHECK(contains(r.output, file.string()));
        CHECK(!contains(r.output, "test accuracy"));
    }
}

TEST_CASE("a checkpoint without normalisation metadata says so and uses the measured or the given statistics",
          "[examples][fashion_mnist]") {
    const std::string accuracy = final_accuracy(trained("graph").output);
    const auto lenet = katachi::io::load_safetensors(scratch() / "graph" / "lenet_graph.safetensors");
    const fs::path file = scratch() / "from_pytorch.safetensors";
    katachi::io::save_safetensors(file, lenet.tensors);  // no metadata, like PyTorch's save_file

    // The default: the training subset's statistics, the same the training run measured.
    run_result r = run("--evaluate " + file.string() + subset);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(contains(r.output, "has no input normalisation"));
    CHECK(contains(r.output, "measured on the 2000 training images"));
    CHECK(contains(r.output, "--normalise MEAN,STD"));
    CHECK(final_accuracy(r.output) == accuracy);

    // Given: used as given, and said so.
    r = run("--evaluate " + file.string() + " --normalise 0.5,2" + subset);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(contains(r.output, "input normalisation: (pixel - 0.5000) / 2.0000 (--normalise)"));
    for (const char* bad : {"0.5", "0.5,0", "0.5,-1", "a,b", "0.5,inf", "nan,1"}) {
        r = run("--evaluate " + file.string() + " --normalise " + bad + subset);
        INFO(r.output);
        CHECK(r.status == 2);
        CHECK(contains(r.output, std::string("--normalise takes MEAN,STD")));
    }
}

TEST_CASE("numeric options that are out of range or not finite are usage errors naming the option",
          "[examples][fashion_mnist]") {
    for (const auto& [option, value] : std::vector<std::pair<std::string, std::string>>{
             {"--lr", "0"},
             {"--lr", "-0.1"},
             {"--lr", "inf"},
             {"--lr", "nan"},
             {"--lr", "1e999"},
             {"--lr", "0.01x"},
             {"--momentum", "50"},
             {"--momentum", "1"},
             {"--momentum", "-0.5"},
             {"--weight-decay", "inf"},
             {"--weight-decay", "-1"},
             {"--weight-decay", "nan"},
             {"--threads", "0"},
             {"--threads", "65"},
             {"--threads", "1000"},
             {"--threads", "4294967297"},
             {"--threads", "2147483648"},
             {"--threads", "-1"},
         }) {
        const run_result r = run(option + " " + value + subset.substr(0, subset.find(" --threads")) +
                                 " --out " + (scratch() / "options-out").string());
        INFO(option << " " << value << ": " << r.output);
        CHECK(r.status == 2);
        CHECK(contains(r.output, option + " takes"));
        CHECK(contains(r.output, "'" + value + "'"));
        CHECK(!contains(r.output, "epoch 1/"));
    }
}

TEST_CASE("a batch size larger than the training set trains on the whole set in one step",
          "[examples][fashion_mnist]") {
    // 23528908257282592 * 784 wraps past 2^64 to 512: a buffer of that many floats would overflow.
    const run_result r = run("--batch-size 23528908257282592 --train-subset 100 --test-subset 500 --epochs 1 "
                             "--threads 1 --out " + (scratch() / "huge-batch").string());
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(contains(r.output, "step    1/1"));
    CHECK(final_accuracy(r.output).size() == 6);
}

TEST_CASE("a run whose loss turns non-finite stops naming the epoch and step and leaves the checkpoint alone",
          "[examples][fashion_mnist]") {
    trained("graph");
    const fs::path out = scratch() / "diverged";
    fs::create_directories(out);
    const fs::path checkpoint = out / "lenet_graph.safetensors";
    fs::copy_file(scratch() / "graph" / "lenet_graph.safetensors", checkpoint);
    const std::string before = read_file(checkpoint);
    const run_result r = run("--lr 1e30 --epochs 2" + subset + " --out " + out.string());
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(std::regex_search(r.output, std::regex("training diverged: the loss is [-a-z]+ at epoch 1, step [0-9]+")));
    CHECK(!contains(r.output, "checkpoint: "));
    CHECK(read_file(checkpoint) == before);
    CHECK(!fs::exists(out / "lenet_graph_state.safetensors"));
    CHECK(!fs::exists(out / "lenet_graph_curves.svg"));
}

TEST_CASE("an unwritable --out is reported before the data is read or anything is trained",
          "[examples][fashion_mnist]") {
    const fs::path file = scratch() / "a-file";
    std::ofstream(file) << "not a folder";
    // Under a file no folder can be made, whoever runs the test (root too).
    const run_result r =
        run("--out " + (file / "out").string() + " --data " + (scratch() / "no-such-folder").string());
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.output, "cannot create the output folder " + (file / "out").string()));
    CHECK(!contains(r.output, "dataset-fashion-mnist"));  // the data was not looked for
}

TEST_CASE("a run that fails leaves no empty --out folder behind it", "[examples][fashion_mnist]") {
    const fs::path out = scratch() / "made-for-nothing";
    const run_result r = run("--out " + out.string() + " --data " + (scratch() / "no-such-folder").string());
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(contains(r.output, "dataset-fashion-mnist"));
    CHECK(!fs::exists(out));
}

TEST_CASE("a float64 checkpoint loads in both faces, and an integer tensor is refused naming file and key",
          "[examples][fashion_mnist]") {
    trained("graph");
    const auto lenet = katachi::io::load_safetensors(scratch() / "graph" / "lenet_graph.safetensors");
    katachi::io::tensor_map f64, i64;
    for (const auto& [key, t] : lenet.tensors) {
        const auto values = t.as<float>();
        f64[key] = katachi::io::tensor::from_xt(xt::xarray<double>(xt::cast<double>(values)));
        i64[key] = katachi::io::tensor::from_xt(xt::xarray<std::int64_t>(xt::cast<std::int64_t>(values)));
    }
    const fs::path f64_file = scratch() / "f64.safetensors", i64_file = scratch() / "i64.safetensors";
    katachi::io::save_safetensors(f64_file, f64, lenet.metadata);
    katachi::io::save_safetensors(i64_file, i64, lenet.metadata);
    const run_result original = run("--face graph --evaluate " + (scratch() / "graph" / "lenet_graph.safetensors").string() + subset);
    REQUIRE(original.status == 0);
    for (const std::string face : {"graph", "eager"}) {
        INFO(face << " face");
        const run_result loaded = run("--face " + face + " --evaluate " + f64_file.string() + subset);
        INFO(loaded.output);
        CHECK(loaded.status == 0);
        CHECK(final_accuracy(loaded.output) == final_accuracy(original.output));  // float64 of float32 values
        const run_result refused = run("--face " + face + " --evaluate " + i64_file.string() + subset);
        INFO(refused.output);
        CHECK(refused.status == 1);
        CHECK(contains(refused.output, i64_file.string()));
        CHECK(std::regex_search(refused.output, std::regex("\"[0-9]\\.(weight|bias)\"")));
        CHECK(contains(refused.output, "I64"));
    }
}

// ---- resuming ----------------------------------------------------------------------------------

TEST_CASE("katachi's generator continues exactly from a saved state, a pending normal value included",
          "[examples][fashion_mnist]") {
    katachi::generator g(42);
    for (int i = 0; i < 5; ++i) g();
    (void)g.normal<double>();  // leaves the Box-Muller spare pending
    const katachi::generator::state_type saved = g.state();
    CHECK(saved[5] == 1);
    std::vector<double> expected;
    for (int i = 0; i < 3; ++i) expected.push_back(g.normal<double>());
    expected.push_back(static_cast<double>(g() >> 11));

    katachi::generator restored(7);
    restored.set_state(saved);
    std::vector<double> got;
    for (int i = 0; i < 3; ++i) got.push_back(restored.normal<double>());
    got.push_back(static_cast<double>(restored() >> 11));
    CHECK(got == expected);
    CHECK(restored.state() == g.state());

    CHECK_THROWS_AS(restored.set_state({0, 0, 0, 0, 0, 0}), std::invalid_argument);
    CHECK_THROWS_AS(restored.set_state({1, 2, 3, 4, 0, 2}), std::invalid_argument);
}

namespace {

// Run A uninterrupted; run B the same, killed (SIGKILL) in its second epoch, then resumed: B's
// final checkpoint must be A's file byte for byte.
void check_resume(const std::string& face) {
    const std::vector<std::string> options{"--face",  face, "--train-subset", "4096", "--test-subset", "500",
                                           "--epochs", "3",  "--threads",      "1"};
    std::string joined;
    for (const std::string& o : options) joined += " " + o;
    const fs::path a = scratch() / ("resume-a-" + face), b = scratch() / ("resume-b-" + face);
    const std::string stem = "lenet_" + face;
    const run_result ra = run(joined + " --out " + a.string());
    INFO(ra.output);
    REQUIRE(ra.status == 0);

    std::vector<std::string> b_options = options;
    b_options.insert(b_options.end(), {"--out", b.string()});
    const pid_t pid = spawn(b_options);
    const auto start = std::chrono::steady_clock::now();
    while (!fs::exists(b / (stem + "_state.safetensors")) &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(120))
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));  // into epoch 2 (about 1 s an epoch)
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    // Killed in the middle: epoch 1's state written, the final checkpoint not.
    REQUIRE(fs::exists(b / (stem + "_state.safetensors")));
    REQUIRE(!fs::exists(b / (stem + ".safetensors")));
    const auto state = katachi::io::load_safetensors(b / (stem + "_state.safetensors"));
    REQUIRE(state.metadata.at("epochs_done") == "1");

    const run_result rb = run("--resume " + b.string() + " --threads 1");
    INFO(rb.output);
    REQUIRE(rb.status == 0);
    CHECK(contains(rb.output, "after epoch 1 of 3"));
    CHECK(!contains(rb.output, "epoch 1/3:"));
    CHECK(contains(rb.output, "epoch 2/3:"));
    CHECK(contains(rb.output, "epoch 3/3:"));
    CHECK(final_accuracy(rb.output) == final_accuracy(ra.output));
    CHECK(read_file(b / (stem + ".safetensors")) == read_file(a / (stem + ".safetensors")));
    // The curves hold epoch 1 too: the same picture as the run never stopped.
    CHECK(read_file(b / (stem + "_curves.svg")) == read_file(a / (stem + "_curves.svg")));
}

}  // namespace

TEST_CASE("a graph-face run killed in its second epoch and resumed ends in the same checkpoint file",
          "[examples][fashion_mnist]") {
    check_resume("graph");
}

TEST_CASE("an eager-face run killed in its second epoch and resumed ends in the same checkpoint file",
          "[examples][fashion_mnist]") {
    check_resume("eager");
}

TEST_CASE("resuming refuses options that contradict the saved run, naming the option and both values",
          "[examples][fashion_mnist]") {
    trained("graph");
    const fs::path dir = scratch() / "graph";
    for (const auto& [given, saved] : std::vector<std::pair<std::string, std::string>>{
             {"--lr 0.01", "--lr 0.002"},
             {"--epochs 5", "--epochs 1"},
             {"--optimiser sgd", "--optimiser adam"},
             {"--train-subset 3000", "--train-subset 2000"},
             {"--seed 7", "--seed 0"},
             {"--face eager", "face graph"},
             {"--normalise 0.5,2", "--normalise 0."},
         }) {
        const run_result r = run("--resume " + dir.string() + " " + given);
        INFO(given << ": " << r.output);
        CHECK(r.status == 2);
        CHECK(contains(r.output, given + " contradicts"));
        CHECK(contains(r.output, "which has " + saved));
    }
    // --threads and --out may differ; the same value of a saved option may be repeated.
    const fs::path elsewhere = scratch() / "resumed-elsewhere";
    const run_result r = run("--resume " + dir.string() + " --threads 2 --epochs 1 --out " + elsewhere.string());
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(fs::exists(elsewhere / "lenet_graph.safetensors"));
}

TEST_CASE("resuming a finished run trains nothing and writes its final report and outputs again",
          "[examples][fashion_mnist]") {
    const std::string accuracy = final_accuracy(trained("graph").output);
    const fs::path dir = scratch() / "graph";
    const std::string before = read_file(dir / "lenet_graph.safetensors");
    fs::remove(dir / "lenet_graph.safetensors");
    const run_result r = run("--resume " + dir.string() + " --threads 1");
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(contains(r.output, "nothing left to train"));
    CHECK(!contains(r.output, "epoch 1/1"));
    CHECK(final_accuracy(r.output) == accuracy);
    CHECK(read_file(dir / "lenet_graph.safetensors") == before);
}

TEST_CASE("resuming a folder without a training state is a usage error naming it", "[examples][fashion_mnist]") {
    const fs::path empty = scratch() / "no-state";
    fs::create_directories(empty);
    const run_result r = run("--resume " + empty.string());
    INFO(r.output);
    CHECK(r.status == 2);
    CHECK(contains(r.output, "--resume " + empty.string() + ": no training state there"));
}

TEST_CASE("with --deterministic the demo writes the same checkpoint file on one and on two threads",
          "[examples][fashion_mnist]") {
    std::vector<std::string> files;
    for (const char* threads : {"1", "2"}) {
        const fs::path out = scratch() / (std::string("deterministic-") + threads);
        const run_result r = run("--train-subset 1500 --test-subset 200 --epochs 1 --deterministic --threads " +
                                 std::string(threads) + " --out " + out.string());
        INFO(r.output);
        REQUIRE(r.status == 0);
        files.push_back(read_file(out / "lenet_graph.safetensors"));
    }
    CHECK(files[0] == files[1]);
}

TEST_CASE("--emit-graph writes the eager LeNet's graph-face type after loading its checkpoint",
          "[examples][fashion_mnist]") {
    trained("eager");
    const fs::path out = scratch() / "emitted", header = out / "lenet.hpp";
    const run_result r = run("--face eager --evaluate " + (scratch() / "eager" / "lenet_eager.safetensors").string() +
                             subset + " --out " + out.string() + " --emit-graph lenet.hpp");
    INFO(r.output);
    REQUIRE(r.status == 0);
    const std::string text = read_file(header);
    CHECK(text.find("using lenet = katachi::graph::sequential<katachi::graph::input<1, 28, 28>,\n"
                    "    katachi::graph::conv2d<32, 3, katachi::graph::padding<1>>,") != std::string::npos);
    CHECK(text.find("{\"9.weight\", \"9.weight\"}") != std::string::npos);
    CHECK(text.find("lenet_keys_identical = true") != std::string::npos);

    const run_result graph = run("--face graph --emit-graph lenet.hpp --out " + out.string());
    CHECK(graph.status == 2);
    CHECK(graph.output.find("--emit-graph writes the eager model's graph-face type: it needs --face eager") !=
          std::string::npos);
}
