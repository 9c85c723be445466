// katachi/data/metrics.hpp: argmax, accuracy and a confusion matrix over logits [N, classes], for
// both faces (the graph face's output views and xtensor arrays here; the eager face's tensors in
// data/eager.hpp).
//
//   const auto predicted = data::argmax(model.forward(b.input()));   // one class per row
//   const double acc = data::accuracy(logits, b.target_span());
//   data::confusion_matrix cm(10);
//   cm.add(logits, b.target_span());                                   // per batch
//   cm.accuracy(), cm.recall(3), cm.precision(3), cm.count(label, predicted)
#pragma once

#include <cstddef>
#include <cstdint>
#include <katachi/error.hpp>
#include <katachi/kernels/common.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace katachi::data {

// The index of each row's largest value (the first of equal ones, as PyTorch's argmax); a NaN
// counts as the largest, as in PyTorch.
template <class T>
void argmax_rows(const T* logits, std::size_t rows, std::size_t classes, std::int64_t* out) {
    for (std::size_t r = 0; r < rows; ++r) {
        const T* row = logits + r * classes;
        std::size_t best = 0;
        for (std::size_t c = 1; c < classes && row[best] == row[best]; ++c)
            if (row[c] > row[best] || row[c] != row[c]) best = c;
        out[r] = static_cast<std::int64_t>(best);
    }
}

namespace detail {

// How argmax reads a kind of logits: contiguous [N, classes] xtensor expressions and the graph
// face's output views here; data/eager.hpp adds the eager face's tensors.
template <class L>
struct logits_access {
    static std::vector<std::int64_t> argmax(const char* where, const L& logits) {
        if (logits.dimension() != 2 || !kernels::detail::is_row_major_contiguous(logits))
            KATACHI_THROW(std::invalid_argument, std::string(where) + ": takes contiguous logits [N, classes], got " +
                                                     std::to_string(logits.dimension()) + " dimensions");
        const std::size_t rows = logits.shape()[0], classes = logits.shape()[1];
        if (classes == 0) KATACHI_THROW(std::invalid_argument, std::string(where) + ": the logits have 0 classes");
        std::vector<std::int64_t> out(rows);
        argmax_rows(kernels::detail::data_of(logits), rows, classes, out.data());
        return out;
    }
};

}  // namespace detail

// argmax over each row of logits [N, classes].
template <class L>
std::vector<std::int64_t> argmax(const L& logits) {
    return detail::logits_access<L>::argmax("argmax", logits);
}

// The share of rows whose largest logit is the target class.
template <class L>
double accuracy(const L& logits, std::span<const std::int64_t> targets) {
    const auto predicted = detail::logits_access<L>::argmax("accuracy", logits);
    if (predicted.size() != targets.size())
        KATACHI_THROW(std::invalid_argument, "accuracy: " + std::to_string(predicted.size()) + " rows of logits for " +
                                                 std::to_string(targets.size()) + " targets");
    if (targets.empty()) return 0.0;
    std::size_t right = 0;
    for (std::size_t i = 0; i < targets.size(); ++i) right += predicted[i] == targets[i];
    return static_cast<double>(right) / static_cast<double>(targets.size());
}

// Counts of (true class, predicted class) pairs.
class confusion_matrix {
public:
    explicit confusion_matrix(std::size_t classes = 10) : classes_(classes), counts_(classes * classes) {
        if (classes == 0) KATACHI_THROW(std::invalid_argument, "confusion_matrix: needs at least one class");
    }

    std::size_t classes() const { return classes_; }

    // One sample; a label or prediction outside 0..classes-1 throws std::out_of_range naming it.
    void add(std::int64_t label, std::int64_t predicted) {
        ++counts_[index(label, "label") * classes_ + index(predicted, "prediction")];
    }
    void add(std::span<const std::int64_t> labels, std::span<const std::int64_t> predicted) {
        if (labels.size() != predicted.size())
            KATACHI_THROW(std::invalid_argument, "confusion_matrix::add: " + std::to_string(labels.size()) +
                                                     " labels for " + std::to_string(predicted.size()) +
                                                     " predictions");
        for (std::size_t i = 0; i < labels.size(); ++i) add(labels[i], predicted[i]);
    }
    // A batch of logits [N, classes] against its targets.
    template <class L>
    void add_logits(const L& logits, std::span<const std::int64_t> targets) {
        add(targets, detail::logits_access<L>::argmax("confusion_matrix::add_logits", logits));
    }

    std::size_t count(std::size_t label, std::size_t predicted) const {
        return counts_.at(label * classes_ + predicted);
    }
    std::size_t total() const {
        std::size_t n = 0;
        for (std::size_t c : counts_) n += c;
        return n;
    }
    std::size_t correct() const {
        std::size_t n = 0;
        for (std::size_t i = 0; i < classes_; ++i) n += counts_[i * classes_ + i];
        return n;
    }
    std::size_t label_count(std::size_t label) const { return sum(label, true); }
    std::size_t predicted_count(std::size_t predicted) const { return sum(predicted, false); }
    double accuracy() const { return ratio(correct(), total()); }
    // Of the samples of this class, the share predicted as it (the per-class accuracy).
    double recall(std::size_t label) const { return ratio(count(label, label), label_count(label)); }
    // Of the samples predicted as this class, the share that are it.
    double precision(std::size_t predicted) const {
        return ratio(count(predicted, predicted), predicted_count(predicted));
    }
    void clear() { counts_.assign(counts_.size(), 0); }
    // The counts, row-major [label][predicted], for sums across processes (distributed.hpp's
    // all_reduce_sum): a matrix per rank becomes the whole data set's.
    std::span<std::size_t> counts() { return counts_; }

private:
    std::size_t index(std::int64_t v, const char* what) const {
        if (v < 0 || static_cast<std::size_t>(v) >= classes_)
            KATACHI_THROW(std::out_of_range, std::string("confusion_matrix::add: ") + what + " " + std::to_string(v) +
                                                 " is not a class (0 to " + std::to_string(classes_ - 1) + ")");
        return static_cast<std::size_t>(v);
    }
    std::size_t sum(std::size_t k, bool row) const {
        if (k >= classes_)
            KATACHI_THROW(std::out_of_range, "confusion_matrix: class " + std::to_string(k) + " of " +
                                                 std::to_string(classes_));
        std::size_t n = 0;
        for (std::size_t j = 0; j < classes_; ++j) n += row ? counts_[k * classes_ + j] : counts_[j * classes_ + k];
        return n;
    }
    static double ratio(std::size_t a, std::size_t b) {
        return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
    }

    std::size_t classes_;
    std::vector<std::size_t> counts_;
};

}  // namespace katachi::data
