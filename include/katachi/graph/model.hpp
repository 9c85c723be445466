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
#include <xtensor/xadapt.hpp>

namespace katachi::graph {

namespace detail {

// What forward, output and the gradients return to the user: an xtensor adaptor of shape
// [batch, S...] over the model's memory, so xtensor's functions apply to it. No allocation.
template <class S, class P>
auto user_view(P* p, std::size_t batch) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return xt::adapt(p, batch * S::size, xt::no_ownership(),
                         std::array<std::size_t, 1 + S::rank>{batch, S::dims[I]...});
    }
    (std::make_index_sequence<S::rank>{});
}

}  // namespace detail

template <class Net, class T = float>
class model {
public:
    using network = Net;
    using scalar = T;
    static constexpr std::size_t nodes = Net::node_count;

    explicit model(std::uint64_t seed = 0)
        : params_(Net::parameter_count),
          grads_(Net::parameter_count),
          buffers_(Net::buffer_count),
          counters_(Net::counter_count) {
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

    // Sizes the workspace for `batch` samples; forward does it too when the batch grows.
    void reserve(std::size_t batch) {
        if (batch == batch_) return;
        batch_ = batch;
        std::size_t at = 0;
        for (std::size_t i = 0; i < nodes; ++i) {
            // A relu taken in by its pooling is never written, nor its gradient: no room for them.
            const std::size_t size = Net::absorbed_relu[i] ? 0 : batch * Net::output_sizes[i];
            act_at_[i] = at;
            at += size;
            grad_at_[i] = at;
            at += size;
        }
        std::size_t idx = 0;
        each_node([&]<std::size_t I>() {
            using B = typename Net::template node_at<I>::bind;
            saved_at_[I] = at;
            at += B::saved_size(batch);
            index_at_[I] = idx;
            idx += B::index_size(batch);
        });
        workspace_at_ = at;
        at += Net::workspace_count(batch);
        loss_at_ = at;
        at += batch * Net::output_sizes[nodes - 1];
        if (work_.size() < at) work_.resize(at);
        if (indices_.size() < idx) indices_.resize(idx);
        detail::reserve_worker_scratch<Net, T>(batch, batch, true);
    }

    // Runs the model on x [N, input shape...] and returns a view of the output [N, output shape...]
    // that stays valid until the next forward.
    template <class X>
    auto forward(const X& x) {
        const std::size_t batch = check_input(x);
        reserve(batch);
        const auto* src = kernels::detail::data_of(x);
        std::copy(src, src + batch * Net::output_sizes[0], act(0));
        each_node([&]<std::size_t I>() {
            using B = typename Net::template node_at<I>::bind;
            if constexpr (I == 0 || Net::absorbed_relu[I]) {
                return;  // the input; or a relu the pooling after it takes in
            } else if constexpr (Net::absorbed_relu[I - 1]) {
                layer_args<T> a = args<I>();
                a.x[0] = act(Net::inputs[I - 1][0]);
                B::forward_after_relu(a);
            } else {
                B::forward(args<I>());
            }
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
        auto log_probs = batch_view<typename Net::output_shape>(work_.data() + loss_at_, batch_);
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
        std::array<bool, nodes> needs{};  // whether node i's output gradient is needed
        needs[0] = want_input_grad;
        for (std::size_t i = 1; i < nodes; ++i) {
            needs[i] = Net::param_sizes[i] > 0 && !frozen_[i];
            for (std::size_t k = 0; k < Net::arity[i]; ++k) needs[i] = needs[i] || needs[Net::inputs[i][k]];
        }
        each_node_reversed([&]<std::size_t I>() {
            if constexpr (I > 0 && Net::live[I] && !Net::absorbed_relu[I]) {
                if (!needs[I]) return;
                layer_args<T> a = args<I>();
                a.dy = grad(I);
                for (std::size_t k = 0; k < Net::arity[I]; ++k) {
                    const std::size_t j = Net::inputs[I][k];
                    a.dx[k] = needs[j] ? grad(j) : nullptr;
                    a.dx_mode[k] =
                        Net::accumulates[I][k] ? kernels::write::accumulate : kernels::write::overwrite;
                }
                if (Net::param_sizes[I] > 0 && !frozen_[I]) a.dparams = grads_.data() + Net::param_offsets[I];
                a.dparams_mode = params_mode;
                if constexpr (Net::absorbed_relu[I - 1]) {
                    // The pooling passes its gradient through the relu it took in, to the relu's input
                    // (the relu's only reader is this pooling, so its one gradient slot is this one).
                    constexpr std::size_t relu_input = Net::inputs[I - 1][0];
                    a.x[0] = act(relu_input);
                    a.dx[0] = needs[relu_input] ? grad(relu_input) : nullptr;
                    a.dx_mode[0] =
                        Net::accumulates[I - 1][0] ? kernels::write::accumulate : kernels::write::overwrite;
                    Net::template node_at<I>::bind::backward_through_relu(a);
                } else {
                    Net::template node_at<I>::bind::backward(a);
                }
            }
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
            std::string expected = "[N";
            for (std::size_t d : S::dims) expected += ", " + std::to_string(d);
            KATACHI_THROW(shape_mismatch, "model::forward: the input has shape " + kernels::detail::shape_text(x) +
                                 ", expected " + expected + "] (per sample " + S::str() + ")");
        }
        return x.shape()[0];
    }

    T* act(std::size_t i) { return work_.data() + act_at_[i]; }
    T* grad(std::size_t i) { return work_.data() + grad_at_[i]; }

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
        a.saved = work_.data() + saved_at_[I];
        a.indices = indices_.data() + index_at_[I];
        a.workspace = work_.data() + workspace_at_;
        a.gen = &gen_;
        return a;
    }

    std::span<T> find(std::string_view name, std::vector<T>& store, bool params) {
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

    std::vector<T> params_, grads_, buffers_;
    std::vector<std::int64_t> counters_;
    std::vector<T> work_;
    std::vector<std::int64_t> indices_;
    std::array<std::size_t, nodes> act_at_{}, grad_at_{}, saved_at_{}, index_at_{};
    std::size_t workspace_at_ = 0, loss_at_ = 0, batch_ = 0;
    std::array<bool, nodes> frozen_{};
    bool training_ = true;
    generator gen_;
};

}  // namespace katachi::graph
