// The main demo: katachi's LeNet learns Fashion-MNIST (Debian's dataset-fashion-mnist: 60,000
// training and 10,000 test images) in either face, and reports what a user wants to see.
//
//   fashion_mnist                       3 epochs in the graph face, outputs in ./katachi-out
//   fashion_mnist --face eager          the same network from lazy modules, define-by-run
//   fashion_mnist --evaluate katachi-out/lenet_graph.safetensors --face eager
//   fashion_mnist --resume katachi-out  continue a stopped run from its last finished epoch
//   fashion_mnist --evaluate model.safetensors --normalise 0.286,0.353
//                                       a checkpoint without the normalisation metadata (PyTorch's)
//   fashion_mnist --help                every option
//
// Before training it prints the model summary; while training, a progress line; after each epoch
// the test accuracy; at the end the test accuracy, per-class accuracy and the confusion matrix, and
// the paths of the checkpoint (safetensors, PyTorch's keys, loadable by either face), of the loss and
// accuracy curves (SVG) and, with --dot, of the model's Graphviz graph.
//
// After every epoch the training state (weights, optimiser, data order, shuffle generator, curves,
// options) is written to <out>/lenet_<face>_state.safetensors; --resume DIR continues from it, and
// the finished run's checkpoint is the same file as that of a run never stopped (same seed and
// --threads). Bad input (labels outside 0..9, images other than 28x28, an empty set, a checkpoint
// with non-finite weights or bad metadata, an unwritable --out) is refused before training, and a
// run whose loss turns non-finite stops without writing a checkpoint.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <katachi/io/idx.hpp>
#include <katachi/parallel.hpp>
#include <katachi/random.hpp>
#include <numbers>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fashion_mnist/checkpoint.hpp"
#include "fashion_mnist/face.hpp"
#include "fashion_mnist/options.hpp"
#include "fashion_mnist/progress.hpp"
#include "fashion_mnist/report.hpp"
#include "fashion_mnist/svg_plot.hpp"
#include "fashion_mnist/training_state.hpp"


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

// The --out folder this run created, removed again (when still empty) if the run fails.
fs::path created_out;

// Creates `dir` and a file in it, removed again: an --out that cannot take the outputs is
// reported before the data is read or anything is trained.
void check_writable(const fs::path& dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) created_out = dir;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
        throw std::runtime_error("cannot create the output folder " + dir.string() + " (--out): " +
                                 (ec ? ec.message() : "it is not a folder"));
    const fs::path probe = dir / (".katachi-write-test-" + std::to_string(::getpid()));
    std::FILE* f = std::fopen(probe.c_str(), "wb");
    if (!f)
        throw std::runtime_error("cannot write in the output folder " + dir.string() +
                                 " (--out): " + std::strerror(errno));
    std::fclose(f);
    fs::remove(probe, ec);
}

// The model's weights must be finite before they are saved anywhere.
void check_finite_weights(fm::face& model, std::size_t epoch) {
    if (const auto why = fm::non_finite(model.state_dict()))
        throw std::runtime_error("training diverged in epoch " + std::to_string(epoch) + ": " + *why +
                                 "; nothing was saved by this epoch (try a smaller --lr)");
}

// --emit-graph: the eager model as a graph-face type, in a header (under --out when relative).
void write_graph_source(const fm::options& opts, fm::face& model, const normalisation& norm) {
    if (opts.emit_graph.empty()) return;
    const fs::path path = opts.emit_graph.is_absolute() ? opts.emit_graph : opts.out / opts.emit_graph;
    const std::string text = model.graph_source("lenet");
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0)
        throw std::runtime_error("cannot write " + path.string());
    std::printf("graph-face model: %s (katachi::graph::model<lenet> loads the checkpoint; it takes images "
                "normalised as (pixel - %.6g) / %.6g)\n",
                path.c_str(), norm.mean, norm.std);
}

}  // namespace

int main(int argc, char** argv) try {
    fm::options opts = fm::parse_options(argc, argv);
    if (opts.help) {
        std::fputs(fm::usage().c_str(), stdout);
        return 0;
    }

    // A run to continue: its options replace the defaults; given ones must agree with them.
    std::optional<fm::training_state> resumed;
    if (!opts.resume.empty()) {
        resumed = fm::read_training_state(fm::find_training_state(opts.resume, opts));
        fm::apply_training_state(*resumed, opts);
        if (!opts.given.contains("--out")) opts.out = opts.resume;
    }
    if (!opts.emit_graph.empty() && opts.face != "eager")
        throw fm::usage_error("--emit-graph writes the eager model's graph-face type: it needs --face eager");
    katachi::set_num_threads(opts.threads);
    katachi::set_deterministic(opts.deterministic);
    check_writable(opts.out);

    // The loader refuses images other than 28x28 and labels outside 0..9, naming the file.
    auto data = katachi::io::load_fashion_mnist(opts.data);
    const std::size_t n_train =
        std::min(opts.train_subset ? opts.train_subset : data.train_labels.size(), data.train_labels.size());
    const std::size_t n_test =
        std::min(opts.test_subset ? opts.test_subset : data.test_labels.size(), data.test_labels.size());
    if (n_test == 0)
        throw std::runtime_error("the test set " + (opts.data / "t10k-images-idx3-ubyte.gz").string() +
                                 " holds no images: nothing to evaluate on");
    if (n_train == 0)
        throw std::runtime_error("the training set " + (opts.data / "train-images-idx3-ubyte.gz").string() +
                                 " holds no images: nothing to train on" +
                                 (opts.evaluate.empty() ? "" : " or to measure the input normalisation from"));
    float* train_images = data.train_images.data();
    float* test_images = data.test_images.data();
    const std::int64_t* train_labels = data.train_labels.data();
    const std::int64_t* test_labels = data.test_labels.data();

    auto model = opts.face == "graph" ? fm::make_graph_face(opts.seed) : fm::make_eager_face(opts.seed);
    std::printf(
        "katachi %s face: LeNet on Fashion-MNIST (%zu training, %zu test images, %d threads)\n\n",
        model->name().c_str(), n_train, n_test, opts.threads);
    std::printf("%s\n", model->summary().c_str());

    // Checkpoint to evaluate, read before the data is normalised so a bad file is reported at once.
    std::optional<katachi::io::safetensors_file> checkpoint;
    std::optional<normalisation> norm;
    if (opts.normalise) norm = normalisation{opts.normalise->mean, opts.normalise->std};
    if (!opts.evaluate.empty()) {
        checkpoint = fm::read_checkpoint(opts.evaluate);
        fm::load_checkpoint(*model, *checkpoint);
        const auto& meta = checkpoint->metadata;
        const auto mean = fm::metadata_number(*checkpoint, "input_mean");
        const auto deviation = fm::metadata_number(*checkpoint, "input_std");
        if (deviation && !(*deviation > 0))
            throw fm::checkpoint_error("the checkpoint " + opts.evaluate.string() + " has metadata input_std = \"" +
                                       meta.at("input_std") + "\": a standard deviation must be above 0");
        std::printf("loaded %s (trained by the %s face)\n", opts.evaluate.c_str(),
                    meta.contains("face") ? meta.at("face").c_str() : "an unknown");
        if (mean && deviation) {
            if (!norm) norm = normalisation{*mean, *deviation};
        } else if (mean || deviation) {
            throw fm::checkpoint_error("the checkpoint " + opts.evaluate.string() + " has metadata " +
                                       (mean ? "input_mean but no input_std" : "input_std but no input_mean") +
                                       ": both or neither are needed");
        } else if (!norm) {
            std::printf(
                "the checkpoint has no input normalisation (input_mean and input_std in its metadata, as one "
                "exported from PyTorch lacks): using the mean and standard deviation measured on the %zu "
                "training images; pass --normalise MEAN,STD to give the ones it was trained with\n",
                n_train);
        }
    } else if (resumed) {
        std::printf("resuming %s after epoch %zu of %zu\n", resumed->file.c_str(), resumed->epochs_done,
                    opts.epochs);
    }
    if (!norm) norm = measure(train_images, n_train);
    std::printf("input normalisation: (pixel - %.4f) / %.4f%s\n", norm->mean, norm->std,
                opts.normalise && !resumed ? " (--normalise)" : "");
    normalise(train_images, n_train, *norm);
    normalise(test_images, n_test, *norm);

    if (!opts.dot.empty()) {
        const fs::path dot = opts.dot.is_absolute() ? opts.dot : opts.out / opts.dot;
        write_dot(dot,
                  model->dot(train_images, train_labels, std::min<std::size_t>(opts.batch_size, n_train)));
    }

    if (checkpoint) {
        const fm::confusion_matrix result = evaluate(*model, test_images, test_labels, n_test);
        std::printf("\n%s", result.report().c_str());
        write_graph_source(opts, *model, *norm);
        return 0;
    }

    // Training: shuffled each epoch by katachi's generator, the last partial batch kept.
    std::printf("optimiser %s, lr %g (%s schedule), batch %zu, %zu epochs, seed %llu\n\n",
                opts.optimiser.name.c_str(), opts.optimiser.lr, opts.schedule.c_str(), opts.batch_size,
                opts.epochs, static_cast<unsigned long long>(opts.seed));
    const std::size_t batch = opts.batch_size, steps = (n_train + batch - 1) / batch;
    const double total_steps = static_cast<double>(steps * opts.epochs);
    std::vector<std::size_t> order(n_train);
    std::iota(order.begin(), order.end(), 0);
    katachi::generator shuffle(opts.seed ^ 0x5eedULL);
    // A batch holds at most the whole training set (a --batch-size near 2^64 / 784 must not wrap).
    std::vector<float> x(std::min(batch, n_train) * pixels);
    std::vector<std::int64_t> y(std::min(batch, n_train));

    fm::svg_series loss_curve{"training loss (mean so far in the epoch)", "#1f77b4", {}, false};
    fm::svg_series epoch_loss{"training loss per epoch", "#1f77b4", {}, true};
    fm::svg_series train_accuracy{"training accuracy", "#ff7f0e", {}, true};
    fm::svg_series test_accuracy{"test accuracy", "#2ca02c", {}, true};
    std::size_t step_count = 0, first_epoch = 1;
    if (resumed) {
        const fm::training_state& s = *resumed;
        const auto bad = [&](const std::string& why) {
            throw fm::checkpoint_error("the training state " + s.file.string() + " " + why);
        };
        if (s.order.size() != n_train)
            bad("orders " + std::to_string(s.order.size()) + " training images, the data gives " +
                std::to_string(n_train) + " (another --data?)");
        std::vector<bool> seen(n_train);
        for (std::size_t i = 0; i < n_train; ++i) {
            const std::int64_t k = s.order[i];
            if (k < 0 || static_cast<std::size_t>(k) >= n_train || seen[static_cast<std::size_t>(k)])
                bad("has \"order\" that is not a permutation (entry " + std::to_string(i) + ")");
            seen[static_cast<std::size_t>(k)] = true;
            order[i] = static_cast<std::size_t>(k);
        }
        if (s.epochs_done > opts.epochs || s.step_count != s.epochs_done * steps)
            bad("has " + std::to_string(s.epochs_done) + " epochs and " + std::to_string(s.step_count) +
                " steps done, which a run of " + std::to_string(opts.epochs) + " epochs of " +
                std::to_string(steps) + " steps cannot have");
        try {
            shuffle.set_state(s.generator);
        } catch (const std::exception& e) {
            bad(std::string("has an impossible \"generator\": ") + e.what());
        }
        katachi::io::safetensors_file weights{s.model, {}, s.file.string()};
        fm::load_checkpoint(*model, weights);
        model->make_optimiser(opts.optimiser);
        try {
            model->load_optimiser_state_dict(s.optimiser);
        } catch (const std::exception& e) {
            bad(std::string("has an optimiser state that does not fit: ") + e.what());
        }
        loss_curve.points = s.loss_curve;
        epoch_loss.points = s.epoch_loss;
        train_accuracy.points = s.train_accuracy;
        test_accuracy.points = s.test_accuracy;
        step_count = s.step_count;
        first_epoch = s.epochs_done + 1;
    } else {
        model->make_optimiser(opts.optimiser);
    }

    const std::string stem = "lenet_" + model->name();
    const fs::path state_file = fm::training_state_path(opts.out, model->name());
    fm::progress bar(stdout, opts.epochs, steps);
    fm::confusion_matrix result;
    std::vector<double> epoch_seconds;
    if (first_epoch > opts.epochs) {
        std::printf("all %zu epochs of this run are done: nothing left to train; its final report follows\n",
                    opts.epochs);
        result = evaluate(*model, test_images, test_labels, n_test);
    }
    for (std::size_t epoch = first_epoch; epoch <= opts.epochs; ++epoch) {
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
            if (!std::isfinite(r.loss)) {
                if (bar.terminal()) std::fputc('\n', stdout);  // past the progress line
                char lr[32];
                std::snprintf(lr, sizeof lr, "%g", opts.optimiser.lr);
                throw std::runtime_error(std::string("training diverged: the loss is ") +
                                         (std::isnan(r.loss) ? "nan" : r.loss > 0 ? "inf" : "-inf") +
                                         " at epoch " + std::to_string(epoch) + ", step " + std::to_string(s + 1) +
                                         " of " + std::to_string(steps) + " (lr " + lr +
                                         "; try a smaller --lr); stopped without writing a checkpoint");
            }
            bar.step(r.loss, r.correct, n);
            if ((s + 1) % std::max<std::size_t>(1, steps / 20) == 0 || s + 1 == steps)
                loss_curve.points.emplace_back(
                    static_cast<double>(epoch - 1) + static_cast<double>(s + 1) / steps, bar.mean_loss());
        }
        epoch_seconds.push_back(bar.finish_epoch());
        check_finite_weights(*model, epoch);
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

        fm::training_state state;
        state.run = fm::run_metadata(opts);
        state.input_mean = norm->mean;
        state.input_std = norm->std;
        state.epochs_done = epoch;
        state.step_count = step_count;
        state.order.assign(order.begin(), order.end());
        state.generator = shuffle.state();
        state.loss_curve = loss_curve.points;
        state.epoch_loss = epoch_loss.points;
        state.train_accuracy = train_accuracy.points;
        state.test_accuracy = test_accuracy.points;
        state.model = model->state_dict();
        state.optimiser = model->optimiser_state_dict();
        fm::save_training_state(state_file, state);
    }

    std::printf("\n%s\n", result.report().c_str());

    const fs::path weights = opts.out / (stem + ".safetensors"), curves = opts.out / (stem + "_curves.svg");
    fm::save_checkpoint(weights, *model,
                        {{"model", "lenet"},
                         {"face", model->name()},
                         {"input_mean", fixed(norm->mean, 9)},
                         {"input_std", fixed(norm->std, 9)},
                         {"epochs", std::to_string(opts.epochs)},
                         {"test_accuracy", fixed(result.accuracy(), 4)}});
    fm::write_svg(curves, {{"loss", "epoch", {loss_curve, epoch_loss}},
                           {"accuracy", "epoch", {train_accuracy, test_accuracy}}});
    std::printf("checkpoint: %s\ncurves: %s\ntraining state (for --resume %s): %s\n", weights.c_str(),
                curves.c_str(), opts.out.c_str(), state_file.c_str());
    write_graph_source(opts, *model, *norm);
    return 0;
} catch (const fm::usage_error& e) {
    std::fprintf(stderr, "fashion_mnist: %s\n\n%s", e.what(), fm::usage().c_str());
    return 2;
} catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "fashion_mnist: error: %s\n", e.what());
    std::error_code ignored;
    if (!created_out.empty()) fs::remove(created_out, ignored);  // only if still empty
    return 1;
}
