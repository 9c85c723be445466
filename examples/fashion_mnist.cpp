// The main demo: katachi's LeNet learns Fashion-MNIST (Debian's dataset-fashion-mnist: 60,000
// training and 10,000 test images) in either face, and reports what a user wants to see.
//
//   fashion_mnist                       3 epochs in the graph face, outputs in ./katachi-out
//   fashion_mnist --face eager          the same network from lazy modules, define-by-run
//   fashion_mnist --evaluate katachi-out/lenet_graph.safetensors --face eager
//   fashion_mnist --resume katachi-out  continue a stopped run from its last finished epoch
//   mpirun -np 2 fashion_mnist --distributed
//                                       data-parallel over MPI: two ranks of one thread each
//   fashion_mnist --evaluate model.safetensors --normalise 0.286,0.353
//                                       a checkpoint without the normalisation metadata (PyTorch's)
//   fashion_mnist --help                every option
//
// Before training it prints the model summary; while training, a progress line; after each epoch
// the test accuracy; at the end the test accuracy, per-class accuracy and the confusion matrix, and
// the paths of the checkpoint (safetensors, PyTorch's keys, loadable by either face), of the loss and
// accuracy curves (SVG) and, with --dot, of the model's Graphviz graph.
//
// After every epoch the training state (weights, optimiser, curves, options) is written to <out>/lenet_<face>_state.safetensors; --resume DIR continues from it, and
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
#include <katachi/data.hpp>
#include <katachi/io/idx.hpp>
#include <katachi/optim/cosine_annealing_lr.hpp>
#include <katachi/parallel.hpp>
#include <katachi/random.hpp>
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
#include "fashion_mnist/ranks.hpp"
#include "fashion_mnist/report.hpp"
#include "fashion_mnist/svg_plot.hpp"
#include "fashion_mnist/training_state.hpp"


namespace fm = fashion_mnist;
namespace fs = std::filesystem;

namespace {

namespace data = katachi::data;

// The input normalisation: (pixel - mean) / std, one pair for every pixel (about 0.286 and 0.353
// measured on all 60,000 training images).
struct normalisation {
    double mean = 0, std = 1;
    data::normalize transform() const { return {{mean}, {std}}; }
};

std::string fixed(double v, int digits) {
    char buffer[48];
    std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
    return buffer;
}

struct evaluation {
    data::confusion_matrix matrix{10};
    double loss = 0;  // mean cross-entropy
};

// The test set in batches of 256 (unshuffled: each batch is read in place). With several ranks each
// scores its shard and the confusion matrices and losses are summed; a set that does not divide
// evenly among them is scored by rank 0 alone, so no image counts twice or not at all.
evaluation evaluate(fm::face& model, const data::tensor_dataset<float>& test, const fm::ranks& ranks) {
    evaluation result;
    std::vector<float> logits(256 * 10);
    double loss_sum = 0;
    const bool shard = test.size() % ranks.size() == 0;
    data::loader_options batches{.batch_size = 256};
    if (shard) batches.num_replicas = ranks.size(), batches.rank = ranks.rank();
    for (const auto& b : data::data_loader(test, batches)) {
        if (!shard && !ranks.leader()) break;
        model.predict(b, logits.data());
        std::vector<std::int64_t> predicted(b.size());
        data::argmax_rows(logits.data(), b.size(), 10, predicted.data());
        result.matrix.add(b.target_span(), predicted);
        for (std::size_t i = 0; i < b.size(); ++i) {  // -log softmax(row)[label], in double
            const float* row = logits.data() + i * 10;
            const double top = *std::max_element(row, row + 10);
            double sum = 0;
            for (std::size_t c = 0; c < 10; ++c) sum += std::exp(row[c] - top);
            loss_sum += top + std::log(sum) - row[b.target_span()[i]];
        }
    }
    ranks.sum(result.matrix.counts());
    ranks.sum(std::span<double>(&loss_sum, 1));
    result.loss = loss_sum / static_cast<double>(test.size());
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

int run(fm::options opts, const fm::ranks& ranks) {
    const bool leader = ranks.leader();
    if (!leader && !std::freopen("/dev/null", "w", stdout))  // rank 0 speaks for the job
        throw std::runtime_error("rank " + std::to_string(ranks.rank()) + ": cannot quiet its output");

    // A run to continue: its options replace the defaults; given ones must agree with them.
    std::optional<fm::training_state> resumed;
    if (!opts.resume.empty()) {
        resumed = fm::read_training_state(fm::find_training_state(opts.resume, opts));
        fm::apply_training_state(*resumed, opts);
        if (!opts.given.contains("--out")) opts.out = opts.resume;
    }
    if (!opts.emit_graph.empty() && opts.face != "eager")
        throw fm::usage_error("--emit-graph writes the eager model's graph-face type: it needs --face eager");
    if (resumed && resumed->ranks != ranks.size())
        throw fm::usage_error("the run being resumed (" + resumed->file.string() + ") trained on " +
                              (resumed->ranks == 1 ? std::string("one process") : std::to_string(resumed->ranks) + " ranks") +
                              " and this one has " + std::to_string(ranks.size()) +
                              ": each rank's share of the data depends on their number, so resume it " +
                              (resumed->ranks == 1 ? std::string("without --distributed")
                                                   : "with mpirun -np " + std::to_string(resumed->ranks) + " ... --distributed"));
    if (opts.batch_size % ranks.size() != 0)
        throw fm::usage_error("--batch-size " + std::to_string(opts.batch_size) + " does not divide among " +
                              std::to_string(ranks.size()) + " ranks (each takes an equal share of every step's images)");
    if (ranks.distributed() && !opts.given.contains("--threads")) opts.threads = 1;  // a core per rank
    katachi::set_num_threads(opts.threads);
    katachi::set_deterministic(opts.deterministic);
    // Denormal floats, which training drifts into, cost tens of times a normal one: flushed to zero,
    // epochs 2 and 3 run as fast as the first, at the same accuracy (as torch.set_flush_denormal).
    katachi::set_flush_denormal(true);
    if (leader) check_writable(opts.out);

    // The loader refuses images other than 28x28 and labels outside 0..9, naming the file.
    auto [train, test] = data::fashion_mnist_datasets(opts.data);
    train.truncate(opts.train_subset);  // 0: all
    test.truncate(opts.test_subset);
    const std::size_t n_train = train.size(), n_test = test.size();
    if (n_test == 0)
        throw std::runtime_error("the test set " + (opts.data / "t10k-images-idx3-ubyte.gz").string() +
                                 " holds no images: nothing to evaluate on");
    if (n_train == 0)
        throw std::runtime_error("the training set " + (opts.data / "train-images-idx3-ubyte.gz").string() +
                                 " holds no images: nothing to train on" +
                                 (opts.evaluate.empty() ? "" : " or to measure the input normalisation from"));
    auto model = opts.face == "graph" ? fm::make_graph_face(opts.seed, ranks) : fm::make_eager_face(opts.seed, ranks);
    std::string workers = std::to_string(opts.threads) + (opts.threads == 1 ? " thread" : " threads");
    if (ranks.distributed()) workers = std::to_string(ranks.size()) + " ranks of " + workers;
    std::printf("katachi %s face: LeNet on Fashion-MNIST (%zu training, %zu test images, %s)\n\n",
                model->name().c_str(), n_train, n_test, workers.c_str());
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
    if (!norm) {
        const data::normalize fitted = data::normalize::fit(train);
        norm = normalisation{fitted.mean[0], fitted.std[0]};
    }
    std::printf("input normalisation: (pixel - %.4f) / %.4f%s\n", norm->mean, norm->std,
                opts.normalise && !resumed ? " (--normalise)" : "");
    train.map(norm->transform());
    test.map(norm->transform());

    if (!opts.dot.empty() && leader) {
        const fs::path dot = opts.dot.is_absolute() ? opts.dot : opts.out / opts.dot;
        data::data_loader first(train, {.batch_size = opts.batch_size});
        write_dot(dot, model->dot(*first.begin()));
    }

    if (checkpoint) {
        std::printf("\n%s", fm::report(evaluate(*model, test, ranks).matrix).c_str());
        if (leader) write_graph_source(opts, *model, *norm);
        return 0;
    }

    // Training: the loader shuffles each epoch by the seed (epoch e's order is the same for any
    // thread count, and a resumed run only tells it the epoch); the last partial batch is kept.
    // With N ranks each takes 1/N of every epoch (its shard of the same shuffle) and 1/N of every
    // step's images, so the run takes the steps of one process.
    std::printf("optimiser %s, lr %g (%s schedule), batch %zu%s, %zu epochs, seed %llu\n\n",
                opts.optimiser.name.c_str(), opts.optimiser.lr, opts.schedule.c_str(), opts.batch_size,
                ranks.distributed() ? (" (" + std::to_string(opts.batch_size / ranks.size()) + " per rank)").c_str() : "",
                opts.epochs, static_cast<unsigned long long>(opts.seed));
    data::data_loader loader(train, {.batch_size = opts.batch_size / ranks.size(),
                                     .shuffle = true,
                                     .seed = opts.seed ^ 0x5eedULL,
                                     .num_replicas = ranks.size(),
                                     .rank = ranks.rank()});
    const std::size_t steps = loader.size();
    const katachi::optim::cosine_annealing_lr_options cosine{.T_max = static_cast<std::int64_t>(steps * opts.epochs)};

    // Blue is training, green is test; the thin line is the loss of each twentieth of an epoch.
    fm::svg_series loss_curve{"training loss (mean of each 1/20 epoch)", "#9ecae1", {}, false};
    fm::svg_series epoch_loss{"training loss (epoch mean)", "#08519c", {}, true};
    fm::svg_series test_loss{"test loss (after the epoch)", "#2ca02c", {}, true};
    fm::svg_series train_accuracy{"training accuracy (epoch mean)", "#08519c", {}, true};
    fm::svg_series test_accuracy{"test accuracy (after the epoch)", "#2ca02c", {}, true};
    std::size_t step_count = 0, first_epoch = 1;
    if (resumed) {
        const fm::training_state& s = *resumed;
        const auto bad = [&](const std::string& why) {
            throw fm::checkpoint_error("the training state " + s.file.string() + " " + why);
        };
        if (s.epochs_done > opts.epochs || s.step_count != s.epochs_done * steps)
            bad("has " + std::to_string(s.epochs_done) + " epochs and " + std::to_string(s.step_count) +
                " steps done, which a run of " + std::to_string(opts.epochs) + " epochs of " +
                std::to_string(steps) + " steps cannot have");
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
        test_loss.points = s.test_loss;
        train_accuracy.points = s.train_accuracy;
        test_accuracy.points = s.test_accuracy;
        step_count = s.step_count;
        first_epoch = s.epochs_done + 1;
    } else {
        model->make_optimiser(opts.optimiser);
    }

    const std::string stem = "lenet_" + model->name();
    const fs::path state_file = fm::training_state_path(opts.out, model->name());
    fm::progress bar(stdout, opts.epochs, steps, ranks.size());
    evaluation result;
    std::vector<double> epoch_seconds;
    if (first_epoch > opts.epochs) {
        std::printf("all %zu epochs of this run are done: nothing left to train; its final report follows\n",
                    opts.epochs);
        result = evaluate(*model, test, ranks);
    }
    const std::size_t window_steps = std::max<std::size_t>(1, steps / 20);
    for (std::size_t epoch = first_epoch; epoch <= opts.epochs; ++epoch) {
        loader.set_epoch(epoch - 1);
        bar.start_epoch(epoch);
        double window[2] = {0, 0};  // loss sum and samples since the last point of the loss curve
        double epoch_sums[3] = {0, 0, 0};  // loss sum, correct, samples: of every rank, at the end
        for (auto it = loader.begin(); it != loader.end(); ++it, ++step_count) {
            const std::size_t s = it.index();
            if (opts.schedule == "cosine")  // torch's CosineAnnealingLR over the run's steps, at this step
                model->set_learning_rate(katachi::optim::lr_at(cosine, opts.optimiser.lr,
                                                               static_cast<std::int64_t>(step_count)));
            const fm::step_result r = model->train_step(*it);
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
            bar.step(r.loss, r.correct, it->size());
            window[0] += r.loss * static_cast<double>(it->size());
            window[1] += static_cast<double>(it->size());
            epoch_sums[0] += r.loss * static_cast<double>(it->size());
            epoch_sums[1] += static_cast<double>(r.correct);
            epoch_sums[2] += static_cast<double>(it->size());
            if ((s + 1) % window_steps == 0 || s + 1 == steps) {  // every rank is at the same step
                ranks.sum(window);
                loss_curve.points.emplace_back(static_cast<double>(epoch - 1) + static_cast<double>(s + 1) / steps,
                                               window[0] / window[1]);
                window[0] = window[1] = 0;
            }
        }
        epoch_seconds.push_back(bar.finish_epoch());
        check_finite_weights(*model, epoch);
        result = evaluate(*model, test, ranks);
        ranks.sum(epoch_sums);
        const double train_loss = epoch_sums[0] / epoch_sums[2], train_acc = epoch_sums[1] / epoch_sums[2];
        epoch_loss.points.emplace_back(epoch, train_loss);
        test_loss.points.emplace_back(epoch, result.loss);
        train_accuracy.points.emplace_back(epoch, train_acc);
        test_accuracy.points.emplace_back(epoch, result.matrix.accuracy());
        std::printf(
            "epoch %zu/%zu: test accuracy %s, test loss %s, training loss %s, training accuracy %s, %.1f s "
            "(%.0f images/s)\n",
            epoch, opts.epochs, fixed(result.matrix.accuracy(), 4).c_str(), fixed(result.loss, 4).c_str(),
            fixed(train_loss, 4).c_str(), fixed(train_acc, 4).c_str(), epoch_seconds.back(),
            static_cast<double>(n_train) / epoch_seconds.back());

        if (!leader) continue;  // rank 0 writes the state for all
        fm::training_state state;
        state.run = fm::run_metadata(opts);
        state.input_mean = norm->mean;
        state.input_std = norm->std;
        state.epochs_done = epoch;
        state.step_count = step_count;
        state.ranks = ranks.size();
        state.loss_curve = loss_curve.points;
        state.epoch_loss = epoch_loss.points;
        state.test_loss = test_loss.points;
        state.train_accuracy = train_accuracy.points;
        state.test_accuracy = test_accuracy.points;
        state.model = model->state_dict();
        state.optimiser = model->optimiser_state_dict();
        fm::save_training_state(state_file, state);
    }

    std::printf("\n%s\n", fm::report(result.matrix).c_str());
    if (!leader) return 0;

    const fs::path weights = opts.out / (stem + ".safetensors"), curves = opts.out / (stem + "_curves.svg");
    fm::save_checkpoint(weights, *model,
                        {{"model", "lenet"},
                         {"face", model->name()},
                         {"input_mean", fixed(norm->mean, 9)},
                         {"input_std", fixed(norm->std, 9)},
                         {"epochs", std::to_string(opts.epochs)},
                         {"test_accuracy", fixed(result.matrix.accuracy(), 4)}});
    fm::write_svg(curves, {{"loss", "epoch", {loss_curve, epoch_loss, test_loss}},
                           {"accuracy", "epoch", {train_accuracy, test_accuracy}}});
    std::printf("checkpoint: %s\ncurves: %s\ntraining state (for --resume %s): %s\n", weights.c_str(),
                curves.c_str(), opts.out.c_str(), state_file.c_str());
    write_graph_source(opts, *model, *norm);
    return 0;
}

// With --distributed, an error on any rank stops every rank (ranks::abort): the others would wait
// for it in their next all-reduce.
int main(int argc, char** argv) {
    std::unique_ptr<fm::ranks> ranks;
    try {
        fm::options opts = fm::parse_options(argc, argv);
        if (opts.help) {
            std::fputs(fm::usage().c_str(), stdout);
            return 0;
        }
        ranks = opts.distributed ? std::make_unique<fm::ranks>(argc, argv) : std::make_unique<fm::ranks>();
        return run(std::move(opts), *ranks);
    } catch (const fm::usage_error& e) {
        if (ranks && ranks->distributed()) ranks->abort(std::string("fashion_mnist: ") + e.what(), 2);
        std::fprintf(stderr, "fashion_mnist: %s\n\n%s", e.what(), fm::usage().c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::error_code ignored;
        if (!created_out.empty()) fs::remove(created_out, ignored);  // only if still empty
        if (ranks && ranks->distributed()) ranks->abort(std::string("fashion_mnist: error: ") + e.what());
        std::fprintf(stderr, "fashion_mnist: error: %s\n", e.what());
        return 1;
    }
}
