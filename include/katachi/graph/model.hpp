// katachi/graph/model.hpp: a trainable model: parameters, gradients, buffers and a workspace.
//
//   graph::model<lenet> m(seed);               // PyTorch's default initialisation from the seed
//   auto logits = m.forward(images);           // images [N, 1, 28, 28]; logits view [N, 10]
//   float loss = m.cross_entropy(labels);      // on the last forward; seeds the backward
//   m.backward();                              // every gradient, in reverse topological order
//   optim::sgd<float> opt(m.parameters(), {.lr = 0.01, .momentum = 0.9});
//   opt.step();
//
// The backward is generated from the graph: nodes run in reverse order, a node's gradient is
// written by its last consumer and added to by the others. Memory for a batch size is sized from
// the types at the first forward with that size (or reserve(batch)); later steps allocate nothing.
// Parameter gradients are overwritten by each backward (accumulate with backward(write::accumulate)).
#pragma once

#include <katachi/error.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <katachi/graph/inference_loop.hpp>
#include <katachi/graph/node_loop.hpp>
#include <katachi/graph/sequential.hpp>
#include <katachi/kernels/cross_entropy.hpp>
#include <katachi/kernels/mse_loss.hpp>
#include <katachi/optim/parameter.hpp>
#include <katachi/random.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
// Where xtensor is on the include path (and KATACHI_NO_XTENSOR is not defined), what a model
// returns to its user is an xtensor adaptor; a build without it (a small device) gets katachi's
// own kernels::tensor_view, with the same shape and indexing.
#if __has_include(<xtensor/xadapt.hpp>) && !defined(KATACHI_NO_XTENSOR)
#include <xtensor/xadapt.hpp>
#define KATACHI_GRAPH_XTENSOR_VIEWS 1
#else
#define KATACHI_GRAPH_XTENSOR_VIEWS 0
#endif

namespace katachi::graph {

namespace detail {

// What forward, output and the gradients return to the user: an xtensor adaptor of shape
// [batch, S...] over the model's memory, so xtensor's functions apply to it (without xtensor, a
// kernels::tensor_view). No allocation.
template <class S, class P>
auto user_view(P* p, std::size_t batch) {
#if KATACHI_GRAPH_XTENSOR_VIEWS
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return xt::adapt(p, batch * S::size, xt::no_ownership(),
                         std::array<std::size_t, 1 + S::rank>{batch, S::dims[I]...});
    }
    (std::make_index_sequence<S::rank>{});
#else
    return batch_view<S>(p, batch);
#endif
}

// Where a training step keeps what it needs for `batch` samples, in elements of the model's work
// and index arrays: every output and its gradient, what each layer saves for its backward, one
// workspace, and the loss's log-probabilities.
template <std::size_t Nodes>
struct training_layout {
    std::array<std::size_t, Nodes> act{}, grad{}, saved{}, index{};
    std::size_t workspace = 0, loss = 0, total = 0, index_total = 0;
};

template <class Net>
constexpr training_layout<Net::node_count> training_layout_of(std::size_t batch) {
    training_layout<Net::node_count> l;
    std::size_t at = 0;
    for (std::size_t i = 0; i < Net::node_count; ++i) {
        const std::size_t size = batch * Net::output_sizes[i];
        l.act[i] = at;
        at += size;
        l.grad[i] = at;
        at += size;
    }
    std::size_t idx = 0;
    for_each_node<Net::node_count>([&]<std::size_t I>() {
        using B = typename Net::template node_at<I>::bind;
        l.saved[I] = at;
        at += B::saved_size(batch);
        l.index[I] = idx;
        idx += B::index_size(batch);
    });
    l.workspace = at;
    at += Net::workspace_count(batch);
    l.loss = at;
    at += batch * Net::output_sizes[Net::node_count - 1];
    l.total = at;
    l.index_total = idx;
    return l;
}

}  // namespace detail

// MaxBatch 0 (the default): the model's memory is on the heap and grows with the batch at the first
// forward of a larger one. MaxBatch > 0: a static model, whose parameters, gradients and workspace
// for up to MaxBatch samples are arrays inside the object (training on a device: no heap at all;
// see static_model below); a larger batch is refused.
template <class Net, class T = float, std::size_t MaxBatch = 0>
class model {
    static constexpr bool fixed = MaxBatch > 0;
    static constexpr auto most = detail::training_layout_of<Net>(MaxBatch);
    template <class E, std::size_t N>
    using store = std::conditional_t<fixed, std::array<E, N>, std::vector<E>>;

public:
    using network = Net;
    using scalar = T;
    static constexpr std::size_t nodes = Net::node_count;
    static constexpr std::size_t max_batch = MaxBatch;

    explicit model(std::uint64_t seed = 0) {
        if constexpr (!fixed) {
            params_.resize(Net::parameter_count);
            grads_.resize(Net::parameter_count);
            buffers_.resize(Net::buffer_count);
            counters_.resize(Net::counter_count);
        }
        reset_parameters(seed);
    }

    // PyTorch's default initialisation, drawn from `seed` node by node; buffers and counters reset.
    void reset_parameters(std::uint64_t seed) {
        generator gen(seed);
        gen_ = generator(seed ^ 0x9e3779b97f4a7c15ULL);
        each_node([&]<std::size_t I>() {
            Net::template node_at<I>::bind::reset(params_.data() + Net::param_offsets[I],
                                                  buffers_.data() + Net::buffer_offsets[I], gen);
        });
        std::fill(grads_.begin(), grads_.end(), T(0));
        std::fill(counters_.begin(), counters_.end(), 0);
    }

    void train(bool on = true) { training_ = on; }
    void eval() { training_ = false; }
    bool training() const { return training_; }

    // The seed of the generator that draws dropout masks.
    void seed_dropout(std::uint64_t seed) { gen_ = generator(seed); }

    // Sizes the workspace for `batch` samples; forward does it too when the batch grows. A static
    // model refuses a batch above MaxBatch.
    void reserve(std::size_t batch) {
        if (batch == batch_) return;
        if constexpr (fixed)
            if (batch > MaxBatch)
                KATACHI_THROW(shape_mismatch, (katachi::detail::sentence() << "model::forward: batch " << batch
                                                                           << " is larger than the static model's "
                                                                           << MaxBatch)
                                                  .c_str());
        const detail::training_layout<nodes> l = detail::training_layout_of<Net>(batch);
        layout_ = l;
        batch_ = batch;
        if constexpr (!fixed) {
            if (work_.size() < l.total) work_.resize(l.total);
            if (indices_.size() < l.index_total) indices_.resize(l.index_total);
        }
        detail::reserve_worker_scratch<Net, T>(batch, batch, true);
    }

    // Runs the model on x [N, input shape...] and returns a view of the output [N, output shape...]
    // that stays valid until the next forward.
    template <class X>
    auto forward(const X& x) {
        return forward_with(x, []<std::size_t>() {});
    }

    // forward, calling after.template operator()<I>() once node I has run (a profiler times the
    // nodes with it, as backward_with below).
    template <class X, class AfterNode>
    auto forward_with(const X& x, AfterNode&& after) {
        const std::size_t batch = check_input(x);
        reserve(batch);
        const auto* src = kernels::detail::data_of(x);
        detail::for_sample_ranges(batch, Net::output_sizes[0], [&](std::size_t begin, std::size_t end) {
            std::copy(src + begin, src + end, act(0) + begin);
        });
        each_node([&]<std::size_t I>() {
            if constexpr (I > 0) Net::template node_at<I>::bind::forward(args<I>());
            after.template operator()<I>();
        });
        return output();
    }

    auto output() { return detail::user_view<typename Net::output_shape>(act(nodes - 1), batch_); }
    auto output_grad() { return detail::user_view<typename Net::output_shape>(grad(nodes - 1), batch_); }
    // d loss / d input of the last backward(…, true).
    auto input_grad() { return detail::user_view<typename Net::input_shape>(grad(0), batch_); }

    // Mean cross-entropy of the last output (logits [N, C]) against class indices [N]; the gradient
    // of the loss becomes the output gradient the backward starts from.
    template <class Targets>
    T cross_entropy(const Targets& targets, const kernels::cross_entropy_options& opts = {}) {
        static_assert(Net::output_shape::rank == 1, "cross_entropy takes logits of shape<classes>");
        auto log_probs = batch_view<typename Net::output_shape>(work_.data() + layout_.loss, batch_);
        const T loss = kernels::cross_entropy_forward(output(), targets, log_probs, opts);
        kernels::cross_entropy_backward(log_probs, targets, T(1), output_grad(), opts);
        return loss;
    }

    // Mean squared error of the last output against a target of the same shape.
    template <class Target>
    T mse(const Target& target) {
        const T loss = kernels::mse_loss_forward(output(), target);
        kernels::mse_loss_backward(output(), target, T(1), output_grad(), kernels::none);
        return loss;
    }

    // Propagates output_grad() (set by a loss, or written by the caller) back through the graph.
    void backward(kernels::write params_mode = kernels::write::overwrite, bool want_input_grad = false) {
        backward_with([]<std::size_t>() {}, params_mode, want_input_grad);
    }

    // backward, calling after.template operator()<I>() once node I's backward has run (its
    // parameter gradients are written), node by node in the backward's order: data-parallel
    // training starts a bucket's all-reduce there (see graph/bucket_plan.hpp), and a profiler
    // times the nodes.
    template <class AfterNode>
    void backward_with(AfterNode&& after, kernels::write params_mode = kernels::write::overwrite,
                       bool want_input_grad = false) {
        std::array<bool, nodes> needs{};  // whether node i's output gradient is needed
        needs[0] = want_input_grad;
        for (std::size_t i = 1; i < nodes; ++i) {
            needs[i] = Net::param_sizes[i] > 0 && !frozen_[i];
            for (std::size_t k = 0; k < Net::arity[i]; ++k) needs[i] = needs[i] || needs[Net::inputs[i][k]];
        }
        each_node_reversed([&]<std::size_t I>() {
            if constexpr (I > 0 && Net::live[I])
                if (needs[I]) backward_node<I>(needs, params_mode);
            after.template operator()<I>();
        });
    }

    // Freezing: a frozen node's parameters get no gradient and are left out of parameters().
    // `prefix` matches node names ("0", "conv1", or "" for every node).
    void freeze(std::string_view prefix = "", bool frozen = true) {
        each_node([&]<std::size_t I>() {
            if (Net::template node_at<I>::name.view().starts_with(prefix)) frozen_[I] = frozen;
        });
    }
    void unfreeze(std::string_view prefix = "") { freeze(prefix, false); }

    // The trainable parameters, under their state-dict names, for the optimisers.
    std::vector<optim::parameter<T>> parameters() {
        std::vector<optim::parameter<T>> out;
        each_node([&]<std::size_t I>() {
            if (frozen_[I]) return;
            std::size_t at = Net::param_offsets[I];
            for (const tensor_spec& s : Net::template node_at<I>::bind::parameters) {
                out.push_back(optim::parameter<T>::fixed(
                    std::string(Net::template node_at<I>::name.view()) + "." + s.name,
                    std::span<T>(params_.data() + at, s.size()), std::span<T>(grads_.data() + at, s.size())));
                at += s.size();
            }
        });
        return out;
    }

    // A parameter, buffer or gradient by its state-dict name ("3.weight", "bn1.running_mean").
    std::span<T> parameter(std::string_view name) { return find(name, params_, true); }
    std::span<T> gradient(std::string_view name) { return find(name, grads_, true); }
    std::span<T> buffer(std::string_view name) { return find(name, buffers_, false); }
    std::int64_t& batches_tracked(std::string_view node) {
        std::int64_t* found = nullptr;
        each_node([&]<std::size_t I>() {
            if (Net::counter_sizes[I] && Net::template node_at<I>::name.view() == node)
                found = &counters_[Net::counter_offsets[I]];
        });
        if (!found)
            KATACHI_THROW(std::out_of_range, "model: no node named '" + std::string(node) + "' counts batches");
        return *found;
    }

    std::span<T> all_parameters() { return params_; }
    std::span<T> all_gradients() { return grads_; }
    std::span<T> all_buffers() { return buffers_; }
    std::span<std::int64_t> all_counters() { return counters_; }
    generator& dropout_generator() { return gen_; }

private:
    template <std::size_t I>
    void backward_node(const std::array<bool, nodes>& needs, kernels::write params_mode) {
        layer_args<T> a = args<I>();
        a.dy = grad(I);
        for (std::size_t k = 0; k < Net::arity[I]; ++k) {
            const std::size_t j = Net::inputs[I][k];
            a.dx[k] = needs[j] ? grad(j) : nullptr;
            a.dx_mode[k] = Net::accumulates[I][k] ? kernels::write::accumulate : kernels::write::overwrite;
        }
        if (Net::param_sizes[I] > 0 && !frozen_[I]) a.dparams = grads_.data() + Net::param_offsets[I];
        a.dparams_mode = params_mode;
        Net::template node_at<I>::bind::backward(a);
    }

    template <class F>
    static void each_node(F&& f) {
        detail::for_each_node<nodes>(f);
    }
    template <class F>
    static void each_node_reversed(F&& f) {
        detail::for_each_node_reversed<nodes>(f);
    }

    template <class X>
    std::size_t check_input(const X& x) const {
        using S = typename Net::input_shape;
        bool ok = x.dimension() == S::rank + 1 && kernels::detail::is_row_major_contiguous(x);
        for (std::size_t i = 0; ok && i < S::rank; ++i) ok = x.shape()[i + 1] == S::dims[i];
        if (!ok) {
            katachi::detail::sentence s;
            s << "model::forward: the input has shape ";
            kernels::detail::append_shape(s, x);
            s << ", expected [N";
            for (std::size_t d : S::dims) s << ", " << d;
            s << "] (per sample shape<";
            for (std::size_t i = 0; i < S::rank; ++i) s << (i ? ", " : "") << S::dims[i];
            KATACHI_THROW(shape_mismatch, (s << ">)").c_str());
        }
        return x.shape()[0];
    }

    T* act(std::size_t i) { return work_.data() + layout_.act[i]; }
    T* grad(std::size_t i) { return work_.data() + layout_.grad[i]; }

    template <std::size_t I>
    layer_args<T> args() {
        layer_args<T> a;
        a.batch = batch_;
        a.training = training_;
        for (std::size_t k = 0; k < Net::arity[I]; ++k) a.x[k] = act(Net::inputs[I][k]);
        a.y = act(I);
        a.params = params_.data() + Net::param_offsets[I];
        a.buffers = buffers_.data() + Net::buffer_offsets[I];
        a.batches_tracked = Net::counter_sizes[I] ? counters_.data() + Net::counter_offsets[I] : nullptr;
        a.saved = work_.data() + layout_.saved[I];
        a.indices = indices_.data() + layout_.index[I];
        a.workspace = work_.data() + layout_.workspace;
        a.gen = &gen_;
        return a;
    }

    template <class Store>
    std::span<T> find(std::string_view name, Store& store, bool params) {
        std::span<T> found;
        each_node([&]<std::size_t I>() {
            using B = typename Net::template node_at<I>::bind;
            const std::string_view node = Net::template node_at<I>::name.view();
            if (!name.starts_with(node) || name.size() <= node.size() || name[node.size()] != '.') return;
            std::size_t at = params ? Net::param_offsets[I] : Net::buffer_offsets[I];
            for (const tensor_spec& s : params ? std::span<const tensor_spec>(B::parameters)
                                               : std::span<const tensor_spec>(B::buffers)) {
                if (name.substr(node.size() + 1) == s.name) found = std::span<T>(store.data() + at, s.size());
                at += s.size();
            }
        });
        if (found.empty()) KATACHI_THROW(std::out_of_range, "model: no tensor named '" + std::string(name) + "'");
        return found;
    }

    store<T, Net::parameter_count> params_{}, grads_{};
    store<T, Net::buffer_count> buffers_{};
    store<std::int64_t, Net::counter_count> counters_{};
    alignas(64) store<T, most.total> work_{};
    store<std::int64_t, most.index_total> indices_{};
    detail::training_layout<nodes> layout_{};
    std::size_t batch_ = 0;
    std::array<bool, nodes> frozen_{};
    bool training_ = true;
    generator gen_;
};

// A model trained from memory inside the object: parameters, gradients, buffers and the workspace of
// up to MaxBatch samples, sized at compile time (training_bytes), no heap. With optim's update rules
// (optim::detail::sgd_rule over all_parameters() and all_gradients()) a device trains from static
// memory. parameters() (for the optimisers' classes) still builds a std::vector.
template <class Net, class T, std::size_t MaxBatch>
requires(MaxBatch > 0) using static_model = model<Net, T, MaxBatch>;

}  // namespace katachi::graph
