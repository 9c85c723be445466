// The main demo: katachi's LeNet learns Fashion-MNIST (Debian's dataset-fashion-mnist: 60,000
// training and 10,000 test images) in either face, and reports what a user wants to see.
//
//   fashion_mnist                       3 epochs in the graph face, outputs in ./katachi-out
//   fashion_mnist --face eager          the same network from lazy modules, define-by-run
//   fashion_mnist --evaluate katachi-out/lenet_graph.safetensors --face eager
//   fashion_mnist --help                every option
//
// Before training it prints the model summary; while training, a progress line; after each epoch
// the test accuracy; at the end the test accuracy, per-class accuracy and the confusion matrix, and
// the paths of the checkpoint (safetensors, PyTorch's keys, loadable by either face), of the loss and
// accuracy curves (SVG) and, with --dot, of the model's Graphviz graph.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <katachi/io/idx.hpp>
#include <katachi/parallel.hpp>
#include <katachi/random.hpp>
#include <numbers>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fashion_mnist/checkpoint.hpp"
#include "fashion_mnist/face.hpp"
#include "fashion_mnist/options.hpp"
#include "fashion_mnist/progress.hpp"
#include "fashion_mnist/report.hpp"
#include "fashion_mnist/svg_plot.hpp"


namespace fm = fashion_mnist;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t pixels = 28 * 28;

struct normalisation {
    double mean = 0, std = 1;
};

// The mean and standard deviation of the training pixels (about 0.286 and 0.353 for all 60,000).
normalisation measure(const float* images, std::size_t count) {
    double sum = 0, squares = 0;
    for (std::size_t i = 0; i < count * pixels; ++i) {
        sum += images[i];
        squares += static_cast<double>(images[i]) * images[i];
    }
    const double n = static_cast<double>(count * pixels);
    const double mean = sum / n;
    return {mean, std::sqrt(std::max(1e-12, squares / n - mean * mean))};
}

void normalise(float* images, std::size_t count, const normalisation& norm) {
    const auto mean = static_cast<float>(norm.mean), scale = static_cast<float>(1 / norm.std);
    for (std::size_t i = 0; i < count * pixels; ++i) images[i] = (images[i] - mean) * scale;
}

std::string fixed(double v, int digits) {
    char buffer[48];
    std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
    return buffer;
}

fm::confusion_matrix evaluate(fm::face& model, const float* images, const std::int64_t* labels,
                              std::size_t count) {
    constexpr std::size_t batch = 256;
    fm::confusion_matrix result;
    std::vector<std::int64_t> predicted(batch);
    for (std::size_t first = 0; first < count; first += batch) {
        const std::size_t n = std::min(batch, count - first);
        model.predict(images + first * pixels, n, predicted.data());
        for (std::size_t i = 0; i < n; ++i) result.add(labels[first + i], predicted[i]);
    }
    return result;
}

// Writes the DOT file and, when Graphviz's `dot` is on the PATH, an SVG beside it.
void write_dot(const fs::path& path, const std::string& text) {
    {
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0)
            throw std::runtime_error("cannot write " + path.string());
    }
    std::printf("model graph: %s\n", path.c_str());
    fs::path svg = path;
    svg.replace_extension(".svg");
    if (std::system("command -v dot >/dev/null 2>&1") == 0) {
        const std::string command = "dot -Tsvg '" + path.string() + "' -o '" + svg.string() + "'";
        if (std::system(command.c_str()) == 0) std::printf("model graph picture: %s\n", svg.c_str());
    } else {
        std::printf("  (install the Debian package graphviz to get %s from it)\n", svg.filename().c_str());
    }
}

}  // namespace

int main(int argc, char** argv) try {
    const fm::options opts = fm::parse_options(argc, argv);
    if (opts.help) {
        std::fputs(fm::usage().c_str(), stdout);
        return 0;
    }
    katachi::set_num_threads(opts.threads);

    auto data = katachi::io::load_fashion_mnist(opts.data);
    const std::size_t n_train =
        std::min(opts.train_subset ? opts.train_subset : data.train_labels.size(), data.train_labels.size());
    const std::size_t n_test =
        std::min(opts.test_subset ? opts.test_subset : data.test_labels.size(), data.test_labels.size());
    float* train_images = data.train_images.data();
    float* test_images = data.test_images.data();
    const std::int64_t* train_labels = data.train_labels.data();
    const std::int64_t* test_labels = data.test_labels.data();

    auto model = opts.face == "graph" ? fm::make_graph_face(opts.seed) : fm::make_eager_face(opts.seed);
    std::printf(
        "katachi %s face: LeNet on Fashion-MNIST (%zu training, %zu test images, %d threads)\n\n",
        model->name().c_str(), n_train, n_test, opts.threads);
    std::printf("%s\n", model->summary().c_str());

    // Checkpoint to evaluate, read before anything else so a bad file is reported at once.
    std::optional<katachi::io::safetensors_file> checkpoint;
    normalisation norm;
    if (!opts.evaluate.empty()) {
        checkpoint = fm::read_checkpoint(opts.evaluate);
        fm::load_checkpoint(*model, *checkpoint);
        const auto& meta = checkpoint->metadata;
        if (meta.contains("input_mean")) norm.mean = std::stod(meta.at("input_mean"));
        if (meta.contains("input_std")) norm.std = std::stod(meta.at("input_std"));
        std::printf("loaded %s (trained by the %s face)\n", opts.evaluate.c_str(),
                    meta.contains("face") ? meta.at("face").c_str() : "an unknown");
    } else {
        norm = measure(train_images, n_train);
    }
    std::printf("input normalisation: (pixel - %.4f) / %.4f\n", norm.mean, norm.std);
    normalise(train_images, n_train, norm);
    normalise(test_images, n_test, norm);

    fs::create_directories(opts.out);
    if (!opts.dot.empty()) {
        const fs::path dot = opts.dot.is_absolute() ? opts.dot : opts.out / opts.dot;
        write_dot(dot,
                  model->dot(train_images, train_labels, std::min<std::size_t>(opts.batch_size, n_train)));
    }

    if (checkpoint) {
        const fm::confusion_matrix result = evaluate(*model, test_images, test_labels, n_test);
        std::printf("\n%s", result.report().c_str());
        return 0;
    }

    // Training: shuffled each epoch by katachi's generator, the last partial batch kept.
    std::printf("optimiser %s, lr %g (%s schedule), batch %zu, %zu epochs, seed %llu\n\n",
                opts.optimiser.name.c_str(), opts.optimiser.lr, opts.schedule.c_str(), opts.batch_size,
                opts.epochs, static_cast<unsigned long long>(opts.seed));
    model->make_optimiser(opts.optimiser);
    const std::size_t batch = opts.batch_size, steps = (n_train + batch - 1) / batch;
    const double total_steps = static_cast<double>(steps * opts.epochs);
    std::vector<std::size_t> order(n_train);
    std::iota(order.begin(), order.end(), 0);
    katachi::generator shuffle(opts.seed ^ 0x5eedULL);
    std::vector<float> x(batch * pixels);
    std::vector<std::int64_t> y(batch);

    fm::svg_series loss_curve{"training loss (mean so far in the epoch)", "#1f77b4", {}, false};
    fm::svg_series epoch_loss{"training loss per epoch", "#1f77b4", {}, true};
    fm::svg_series train_accuracy{"training accuracy", "#ff7f0e", {}, true};
    fm::svg_series test_accuracy{"test accuracy", "#2ca02c", {}, true};
    fm::progress bar(stdout, opts.epochs, steps);
    fm::confusion_matrix result;
    std::vector<double> epoch_seconds;
    std::size_t step_count = 0;
    for (std::size_t epoch = 1; epoch <= opts.epochs; ++epoch) {
        for (std::size_t i = order.size(); i-- > 1;) std::swap(order[i], order[shuffle() % (i + 1)]);
        bar.start_epoch(epoch);
        for (std::size_t s = 0; s < steps; ++s, ++step_count) {
            if (opts.schedule == "cosine")
                model->set_learning_rate(
                    opts.optimiser.lr * 0.5 *
                    (1 + std::cos(std::numbers::pi * static_cast<double>(step_count) / total_steps)));
            const std::size_t n = std::min(batch, n_train - s * batch);
            for (std::size_t i = 0; i < n; ++i) {
                const std::size_t k = order[s * batch + i];
                std::copy_n(train_images + k * pixels, pixels, x.data() + i * pixels);
                y[i] = train_labels[k];
            }
            const fm::step_result r = model->train_step(x.data(), y.data(), n);
            bar.step(r.loss, r.correct, n);
            if ((s + 1) % std::max<std::size_t>(1, steps / 20) == 0 || s + 1 == steps)
                loss_curve.points.emplace_back(
                    static_cast<double>(epoch - 1) + static_cast<double>(s + 1) / steps, bar.mean_loss());
        }
        epoch_seconds.push_back(bar.finish_epoch());
        result = evaluate(*model, test_images, test_labels, n_test);
        epoch_loss.points.emplace_back(epoch, bar.mean_loss());
        train_accuracy.points.emplace_back(epoch, bar.accuracy());
        test_accuracy.points.emplace_back(epoch, result.accuracy());
        std::printf(
            "epoch %zu/%zu: test accuracy %s, training loss %s, training accuracy %s, %.1f s (%.0f "
            "images/s)\n",
            epoch, opts.epochs, fixed(result.accuracy(), 4).c_str(), fixed(bar.mean_loss(), 4).c_str(),
            fixed(bar.accuracy(), 4).c_str(), epoch_seconds.back(),
            static_cast<double>(n_train) / epoch_seconds.back());
    }

    std::printf("\n%s\n", result.report().c_str());

    const std::string stem = "lenet_" + model->name();
    const fs::path weights = opts.out / (stem + ".safetensors"), curves = opts.out / (stem + "_curves.svg");
    fm::save_checkpoint(weights, *model,
                        {{"model", "lenet"},
                         {"face", model->name()},
                         {"input_mean", fixed(norm.mean, 9)},
                         {"input_std", fixed(norm.std, 9)},
                         {"epochs", std::to_string(opts.epochs)},
                         {"test_accuracy", fixed(result.accuracy(), 4)}});
    fm::write_svg(curves, {{"loss", "epoch", {loss_curve, epoch_loss}},
                           {"accuracy", "epoch", {train_accuracy, test_accuracy}}});
    std::printf("checkpoint: %s\ncurves: %s\n", weights.c_str(), curves.c_str());
    return 0;
} catch (const fm::usage_error& e) {
    std::fprintf(stderr, "fashion_mnist: %s\n\n%s", e.what(), fm::usage().c_str());
    return 2;
} catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist: error: %s\n", e.what());
    return 1;
}
