// Suite `examples`: the Fashion-MNIST demo (examples/fashion_mnist.cpp) run as a user runs it, on
// a subset (2,000 training and 500 test images, one epoch) so that it takes seconds: its report,
// its outputs, a checkpoint crossing from one face to the other, and its errors.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <katachi/io/safetensors.hpp>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

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
