// A graph-face program built from katachi's headers alone (no libkatachi): -I include, OpenBLAS and
// zlib. test/header_only/meson.build builds it twice, with exceptions and with -fno-exceptions
// -fno-rtti; run_header_only.py runs both and compares what they say about the same broken files.
//
//   graph_program run DIR     trains a small model, saves and reloads its checkpoint, compares
//                             inference with the model, reads IDX files (and Fashion-MNIST when
//                             Debian's dataset-fashion-mnist is installed); DIR gets the files
//   graph_program load FILE   loads FILE as that model's checkpoint
//   graph_program other FILE  saves a checkpoint whose first layer has another width
//   graph_program idx FILE    reads FILE as an IDX file
//
// A failure of load, other or idx prints "failure: <sentence>" and exits with 2: in the build with
// exceptions the sentence is the caught exception's what(), without exceptions it is the message
// katachi's error handler received. A broken check of `run` prints "FAILED: <what>" and exits 1.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <katachi/error.hpp>
#include <katachi/graph.hpp>
#include <katachi/graph/state_dict.hpp>
#include <katachi/io/idx.hpp>
#include <katachi/io/safetensors.hpp>
#include <katachi/optim/sgd.hpp>
#include <string>
#include <vector>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>
#if defined(__cpp_exceptions)
#include <exception>
#endif

namespace g = katachi::graph;
namespace io = katachi::io;

namespace {

// Parameters, running statistics and a batch counter: every kind of state a checkpoint holds.
using net = g::sequential<g::input<6>, g::linear<8>, g::batch_norm1d, g::relu, g::linear<3>>;
using other_net = g::sequential<g::input<6>, g::linear<5>, g::batch_norm1d, g::relu, g::linear<3>>;

int failures = 0;

void check(bool ok, const std::string& what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", what.c_str());
    if (!ok) ++failures;
}

template <class A, class B>
bool same_values(const A& a, const B& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

xt::xtensor<float, 2> batch_input() {
    xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({4, 6});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.7f * static_cast<float>(i));
    return x;
}

void train_save_load(const std::filesystem::path& dir) {
    g::model<net> m(1);
    katachi::optim::sgd<float> opt(m.parameters(), {.lr = 0.1, .momentum = 0.9});
    const auto x = batch_input();
    const xt::xtensor<std::int64_t, 1> y = {0, 2, 1, 2};
    float first = 0, last = 0;
    for (int step = 0; step < 20; ++step) {
        m.forward(x);
        last = m.cross_entropy(y);
        if (step == 0) first = last;
        m.backward();
        opt.step();
    }
    check(last < first,
          "training lowers the loss (" + std::to_string(first) + " -> " + std::to_string(last) + ")");

    const auto path = dir / "model.safetensors";
    g::save(m, path);
    g::model<net> loaded(7);
    const g::load_result result = g::load(loaded, path);
    check(result.missing_keys.empty() && result.unexpected_keys.empty(), "strict load finds every key");
    check(same_values(loaded.all_parameters(), m.all_parameters()), "loaded parameters equal the saved ones");
    check(same_values(loaded.all_buffers(), m.all_buffers()),
          "loaded running statistics equal the saved ones");
    check(same_values(loaded.all_counters(), m.all_counters()) && loaded.all_counters()[0] == 20,
          "the batch counter is saved and loaded");
    const io::safetensors_file file = io::load_safetensors(path);
    check(file.tensors.size() == 9 && file.get<float>("0.weight").shape()[1] == 6,
          "the checkpoint holds PyTorch's names and shapes");

    m.eval();
    loaded.eval();
    const xt::xarray<float> from_model = m.forward(x);
    const xt::xarray<float> from_loaded = loaded.forward(x);
    g::inference_model<net, float, 4> inference;
    inference.load(loaded);
    const xt::xarray<float> from_inference = inference.forward(x);
    check(from_loaded == from_model, "the loaded model computes what the saved one does");
    check(
        from_inference.shape() == from_model.shape() && xt::allclose(from_inference, from_model, 1e-5, 1e-6),
        "inference_model's forward matches the model's");
}

void put_u32(std::vector<unsigned char>& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(v >> shift));
}

void read_idx_files(const std::filesystem::path& dir) {
    std::vector<unsigned char> images = {0, 0, 0x08, 3};  // 2 images of 3x4 bytes
    for (std::uint32_t d : {2u, 3u, 4u}) put_u32(images, d);
    for (unsigned i = 0; i < 24; ++i) images.push_back(static_cast<unsigned char>(i * 10));
    std::ofstream(dir / "images-idx3-ubyte", std::ios::binary)
        .write(reinterpret_cast<const char*>(images.data()), static_cast<std::streamsize>(images.size()));

    std::vector<unsigned char> labels = {0, 0, 0x08, 1};  // gzip'd, as Fashion-MNIST ships them
    put_u32(labels, 2);
    labels.insert(labels.end(), {7, 3});
    const std::string labels_path = (dir / "labels-idx1-ubyte.gz").string();
    gzFile gz = gzopen(labels_path.c_str(), "wb");
    const bool written = gz && gzwrite(gz, labels.data(), static_cast<unsigned>(labels.size())) ==
                                   static_cast<int>(labels.size());
    check(gz && gzclose(gz) == Z_OK && written, "zlib writes the gzip'd labels");

    const auto x = io::read_idx_images(dir / "images-idx3-ubyte");
    bool values = x.shape() == std::array<std::size_t, 4>{2, 1, 3, 4};
    for (std::size_t i = 0; values && i < 24; ++i)
        values = x.data()[i] == static_cast<float>(i * 10) / 255.0f;
    check(values, "read_idx_images gives [2, 1, 3, 4] scaled to [0, 1]");
    const auto y = io::read_idx_labels(labels_path);
    check(y.size() == 2 && y(0) == 7 && y(1) == 3, "read_idx_labels reads a gzip'd file");
    const io::idx_array raw = io::read_idx(dir / "images-idx3-ubyte");
    check(raw.type_code == 0x08 && raw.shape == std::vector<std::size_t>{2, 3, 4} && raw.values[23] == 230,
          "read_idx keeps the type code, shape and values");

    if (std::filesystem::is_directory(io::fashion_mnist_default_dir)) {
        const io::fashion_mnist data = io::load_fashion_mnist();
        check(data.train_images.shape()[0] == 60000 && data.test_labels.size() == 10000,
              "load_fashion_mnist reads Debian's data set");
    } else {
        std::printf("skipped: %s is not installed\n", io::fashion_mnist_default_dir.c_str());
    }
}

// Runs `action`; a katachi failure prints its sentence and gives 2, success gives 0.
#if defined(__cpp_exceptions)
template <class F>
int report_failure(F action) {
    try {
        action();
    } catch (const std::exception& e) {
        std::printf("failure: %s\n", e.what());
        return 2;
    }
    return 0;
}
#else
std::jmp_buf failed;
char message[8192];

[[noreturn]] void on_error(const char* what) noexcept {
    std::snprintf(message, sizeof message, "%s", what);
    std::longjmp(failed, 1);
}

template <class F>
int report_failure(F action) {
    katachi::set_error_handler(on_error);
    if (setjmp(failed) != 0) {  // the objects of `action` are abandoned, not destroyed: the program ends
        std::printf("failure: %s\n", message);
        return 2;
    }
    action();
    return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s run DIR | load FILE | other FILE | idx FILE\n", argv[0]);
        return 64;
    }
    const std::string mode = argv[1];
    const std::filesystem::path path = argv[2];
    std::printf("build: %s\n", katachi::exceptions_enabled ? "exceptions" : "no exceptions, error handler");
    if (mode == "run") {
        const int status = report_failure([&] {
            train_save_load(path);
            read_idx_files(path);
        });
        return status != 0 ? status : failures > 0 ? 1 : 0;
    }
    if (mode == "load")
        return report_failure([&] {
            g::model<net> m(0);
            g::load(m, path);
            std::printf("loaded\n");
        });
    if (mode == "other")
        return report_failure([&] {
            g::model<other_net> m(0);
            g::save(m, path);
        });
    if (mode == "idx")
        return report_failure([&] {
            const io::idx_array a = io::read_idx(path);
            std::printf("read %zu values\n", a.values.size());
        });
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 64;
}
