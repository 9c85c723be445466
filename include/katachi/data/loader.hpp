// katachi/data/loader.hpp: batches of a data set, shuffled by a seed, as PyTorch's DataLoader.
//
//   data::data_loader loader(train, {.batch_size = 64, .shuffle = true, .seed = 1});
//   for (const auto& b : loader) {                    // one epoch; the next loop is the next epoch
//       model.forward(b.input());                     // graph face: xtensor view [n, 1, 28, 28]
//       model.cross_entropy(b.targets());
//       ...
//   }
//   loader.set_epoch(4);                              // resume: epoch 4's order, whatever came before
//
// The order of epoch e is a function of (seed, e) alone: the same on every machine and for any
// thread count, and a resumed run needs no more state than the epoch. Unshuffled batches point into
// the data set (no copy); shuffled ones are gathered once into the loader's buffer, or straight
// into a destination of the caller's (copy_input_to: the eager face's tensors, data/eager.hpp).
// A batch's views stay valid until the iterator moves on.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <katachi/data/dataset.hpp>
#include <katachi/error.hpp>
#include <katachi/random.hpp>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xadapt.hpp>

namespace katachi::data {

struct loader_options {
    std::size_t batch_size = 1;
    bool shuffle = false;
    bool drop_last = false;  // leave out a last batch smaller than batch_size
    std::uint64_t seed = 0;  // the shuffle's seed
    // Data-parallel training, as PyTorch's DistributedSampler: each of num_replicas loaders (one per
    // rank, all with the same seed, so all with the same epoch order) takes every num_replicas-th
    // sample from `rank` on. The epoch is first padded by repeating its first samples, so every
    // rank gets as many, or, with drop_uneven, cut to a multiple of num_replicas.
    std::size_t num_replicas = 1;
    std::size_t rank = 0;
    bool drop_uneven = false;
};

// 0..n-1 in the order of `epoch` for `seed` (Fisher-Yates over katachi's generator).
inline std::vector<std::size_t> shuffled_order(std::size_t n, std::uint64_t seed, std::size_t epoch) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    generator gen(seed ^ (0x9e3779b97f4a7c15ULL * (static_cast<std::uint64_t>(epoch) + 1)));
    for (std::size_t i = n; i-- > 1;) std::swap(order[i], order[gen() % (i + 1)]);
    return order;
}

// The samples of `order` that `rank` of `num_replicas` takes, as DistributedSampler takes them.
inline std::vector<std::size_t> shard_of(const std::vector<std::size_t>& order, std::size_t num_replicas,
                                         std::size_t rank, bool drop_uneven) {
    const std::size_t n = order.size();
    if (num_replicas == 1) return order;
    const std::size_t per_rank = drop_uneven ? n / num_replicas : (n + num_replicas - 1) / num_replicas;
    std::vector<std::size_t> shard(per_rank);
    for (std::size_t i = 0; i < per_rank; ++i)
        shard[i] = order[(i * num_replicas + rank) % n];  // wraps = padding
    return shard;
}

template <class T = float>
class data_loader {
public:
    // The constructor, begin() and the iterator's load are defined after the class (not inline), so
    // that KATACHI_EXTERN_KERNELS can take float's from libkatachi (below).
    data_loader(const tensor_dataset<T>& set, const loader_options& options);

    // The loader reads the data set in place: a temporary one would be gone before the first batch.
    data_loader(const tensor_dataset<T>&&, const loader_options&) = delete;

    // Batches per epoch (PyTorch's len(loader)).
    std::size_t size() const {
        const std::size_t n = samples_per_epoch(), b = options_.batch_size;
        return options_.drop_last ? n / b : (n + b - 1) / b;
    }
    // The samples this loader (this rank) visits per epoch.
    std::size_t samples_per_epoch() const {
        const std::size_t n = set_->size(), r = options_.num_replicas;
        return r == 1 || n == 0 ? n : options_.drop_uneven ? n / r : (n + r - 1) / r;
    }
    const loader_options& options() const { return options_; }
    const tensor_dataset<T>& dataset() const { return *set_; }

    // The epoch the next loop runs; each loop (begin()) moves it on by one.
    std::size_t epoch() const { return epoch_; }
    void set_epoch(std::size_t e) { epoch_ = e; }

    class batch {
    public:
        using value_type = T;
        std::size_t size() const { return indices_.size(); }
        const std::vector<std::size_t>& sample_shape() const { return owner_->set_->sample_shape(); }
        // The data set's index of each sample in the batch.
        std::span<const std::size_t> indices() const { return indices_; }
        std::span<const std::int64_t> target_span() const { return targets_; }
        // [n, sample shape...] and [n]; the graph face's input and target forms.
        auto input() const {
            std::vector<std::size_t> shape{size()};
            shape.insert(shape.end(), owner_->set_->sample_shape().begin(),
                         owner_->set_->sample_shape().end());
            return xt::adapt(input_data(), size() * owner_->set_->sample_size(), xt::no_ownership(), shape);
        }
        auto targets() const {
            return xt::adapt(targets_.data(), targets_.size(), xt::no_ownership(),
                             std::vector<std::size_t>{size()});
        }
        // The features as one block [n, sample...]: a pointer into the data set when the batch is a
        // run of it, else gathered into the loader's buffer (once per batch).
        const T* input_data() const {
            if (contiguous_) return owner_->set_->sample(indices_.front());
            if (!gathered_) {
                copy_input_to(owner_->buffer_.data());
                gathered_ = true;
            }
            return owner_->buffer_.data();
        }
        // Writes the features to dst (n * sample_size values) straight from the data set.
        void copy_input_to(T* dst) const {
            const std::size_t s = owner_->set_->sample_size();
            for (std::size_t i = 0; i < size(); ++i)
                std::copy_n(owner_->set_->sample(indices_[i]), s, dst + i * s);
        }

    private:
        friend class data_loader;
        const data_loader* owner_ = nullptr;
        std::span<const std::size_t> indices_;
        std::span<const std::int64_t> targets_;
        bool contiguous_ = false;
        mutable bool gathered_ = false;
    };

    class iterator {
    public:
        using value_type = batch;
        using difference_type = std::ptrdiff_t;
        const batch& operator*() const { return current_; }
        const batch* operator->() const { return &current_; }
        iterator& operator++() {
            ++k_;
            load();
            return *this;
        }
        bool operator==(const iterator& o) const { return k_ == o.k_; }
        std::size_t index() const { return k_; }  // the batch's number in the epoch

    private:
        friend class data_loader;
        iterator(data_loader* owner, std::size_t k) : owner_(owner), k_(k) { load(); }
        void load();
        data_loader* owner_;
        std::size_t k_;
        batch current_;
    };

    // Starts an epoch: fixes its order and moves the epoch counter on. One loop at a time.
    iterator begin();
    iterator end() { return iterator(this, size()); }

private:
    const tensor_dataset<T>* set_;
    loader_options options_;
    std::size_t epoch_ = 0;
    std::vector<std::size_t> order_;
    mutable std::vector<T> buffer_;  // a shuffled batch, gathered when first read
    std::vector<std::int64_t> targets_;
};

template <class T>
data_loader<T>::data_loader(const tensor_dataset<T>& set, const loader_options& options)
    : set_(&set), options_(options) {
    if (options_.batch_size == 0)
        KATACHI_THROW(std::invalid_argument, "data_loader: batch_size must be at least 1, got 0");
    if (options_.num_replicas == 0 || options_.rank >= options_.num_replicas)
        KATACHI_THROW(std::invalid_argument, "data_loader: rank " + std::to_string(options_.rank) +
                                                 " of num_replicas " + std::to_string(options_.num_replicas) +
                                                 ": the rank must lie in [0, num_replicas)");
}

template <class T>
void data_loader<T>::iterator::load() {
    if (k_ >= owner_->size()) return;
    const std::size_t b = owner_->options_.batch_size, first = k_ * b;
    const std::size_t n = std::min(b, owner_->order_.size() - first);
    current_ = batch{};
    current_.owner_ = owner_;
    current_.indices_ = std::span<const std::size_t>(owner_->order_).subspan(first, n);
    current_.contiguous_ = !owner_->options_.shuffle && owner_->options_.num_replicas == 1;
    if (current_.contiguous_) {  // a run of the data set: its targets in place too
        current_.targets_ = owner_->set_->targets().subspan(current_.indices_.front(), n);
        return;
    }
    owner_->targets_.resize(n);
    for (std::size_t i = 0; i < n; ++i) owner_->targets_[i] = owner_->set_->target(current_.indices_[i]);
    current_.targets_ = owner_->targets_;
}

template <class T>
typename data_loader<T>::iterator data_loader<T>::begin() {
    const std::size_t n = set_->size();
    if (options_.shuffle) {
        order_ = shuffled_order(n, options_.seed, epoch_);
    } else {
        order_.resize(n);
        std::iota(order_.begin(), order_.end(), std::size_t{0});
    }
    if (options_.num_replicas > 1 && n > 0)
        order_ = shard_of(order_, options_.num_replicas, options_.rank, options_.drop_uneven);
    buffer_.resize(std::min(options_.batch_size, n) * set_->sample_size());
    ++epoch_;
    return iterator(this, 0);
}

}  // namespace katachi::data

// A program compiled with KATACHI_EXTERN_KERNELS (katachi/instances.hpp) takes float's loader from
// libkatachi (src/instances.cpp).
#define KATACHI_DATA_LOADER_INSTANCES(EXTERN) EXTERN template class data_loader<float>;
#if defined(KATACHI_EXTERN_KERNELS)
namespace katachi::data {
KATACHI_DATA_LOADER_INSTANCES(extern)
}  // namespace katachi::data
#endif
