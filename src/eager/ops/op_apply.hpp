// src/eager/ops/op_apply.hpp: the eager face's adaptor over an op defined once in katachi/ops/.
//
// apply<Op>(options, inputs, params, buffers, state) checks the inputs by the op's shape rule (the
// sentence the graph face gives at compile time, after "<op>: "), runs the op's forward on the
// tensors' storage and, when a gradient is wanted, records an op_node whose backward runs the op's
// backward. Dimension 0 of every input is the batch; the rest is the per-sample shape the op's
// rule takes. The functional forms (eager/functional/layers.hpp) and the modules both come here.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../support.hpp"
#include "katachi/ops/op.hpp"

namespace katachi::eager::detail {

// The per-sample shape of a batched tensor shape.
inline ops::dims per_sample(const char* op, const sizes& s) {
    if (s.size() == 0 || s.size() > ops::max_rank + 1)
        throw shape_mismatch(std::string(op) + ": the input has shape " + s.str() +
                             ", expected a batch: [N, ...] with at most " + std::to_string(ops::max_rank) +
                             " sizes after N");
    ops::dims d;
    d.rank = s.size() - 1;
    for (std::size_t i = 0; i < d.rank; ++i) d.d[i] = s[i + 1];
    return d;
}

inline sizes batched(std::size_t batch, const ops::dims& d) {
    sizes s;
    s.push_back(batch);
    for (std::size_t i = 0; i < d.rank; ++i) s.push_back(d.d[i]);
    return s;
}

// What a call needs beyond its tensors.
struct op_state {
    bool training = false;
    std::int64_t* batches_tracked = nullptr;
    generator* gen = nullptr;
};

// n zeroed elements in a block from the storage cache (memory.hpp), as the op's saved values or
// indices: a max pooling's indices at batch 64 are hundreds of kilobytes, which a std::vector
// took from the system (and page-faulted in) at every step.
template <class U>
class saved_buffer {
public:
    saved_buffer() = default;
    explicit saved_buffer(std::size_t n) {
        if (n == 0) return;
        data_ = static_cast<U*>(acquire_block(n * sizeof(U), capacity_));
        std::fill_n(data_, n, U(0));
    }
    saved_buffer(saved_buffer&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), capacity_(std::exchange(o.capacity_, 0)) {}
    saved_buffer& operator=(saved_buffer&& o) noexcept {
        if (this != &o) {
            release();
            data_ = std::exchange(o.data_, nullptr);
            capacity_ = std::exchange(o.capacity_, 0);
        }
        return *this;
    }
    ~saved_buffer() { release(); }
    U* data() const noexcept { return data_; }

private:
    void release() noexcept {
        if (data_) release_block(data_, capacity_);
        data_ = nullptr;
        capacity_ = 0;
    }
    U* data_ = nullptr;
    std::size_t capacity_ = 0;
};

template <class T>
const T* data_or_null(const basic_tensor<T>& t) {
    return t.defined() ? t.data() : nullptr;
}

template <class Op, class T, std::size_t N>
struct op_node final : node<T> {
    typename Op::options_type options;
    std::array<ops::dims, N> in{};
    std::array<sizes, N> input_shapes;
    std::size_t batch = 0;
    bool training = false;
    std::array<basic_tensor<T>, N> x;  // kept when the backward reads the inputs
    basic_tensor<T> out;               // kept when it reads the output
    std::array<basic_tensor<T>, 4> params;
    std::array<basic_tensor<T>, 4> buffers;  // copies of the forward's values, when the backward reads them
    saved_buffer<T> saved;
    saved_buffer<std::int64_t> indices;

    explicit op_node(const typename Op::options_type& o) : node<T>(Op::name), options(o) {}

    template <class F>
    decltype(auto) with_inputs(F&& f) const {
        return [&]<std::size_t... I>(std::index_sequence<I...>)->decltype(auto) { return f(in[I]...); }
        (std::make_index_sequence<N>{});
    }

    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        ops::call<T> c;
        c.batch = batch;
        c.training = training;
        for (std::size_t i = 0; i < N; ++i) {
            c.x[i] = data_or_null(x[i]);
            if (this->needs_input_grad(i)) {
                dx[i] = basic_tensor<T>::empty(input_shapes[i]);
                c.dx[i] = dx[i].data();
            }
        }
        // The parameters' gradients go straight into their leaves' accumulated grads (the kernels
        // add into them) when each one asked for has one and none of them shares storage with
        // what the backward reads; one mode covers all of them, so it is all or none.
        std::array<T*, 4> in_place{};
        bool all_in_place = true, any_wanted = false;
        for (std::size_t j = 0; j < 4; ++j) {
            if (!params[j].defined() || !this->needs_input_grad(N + j)) continue;
            any_wanted = true;
            in_place[j] = this->leaf_grad_in_place(N + j, params[j].shape());
            all_in_place = all_in_place && in_place[j] && !reads_storage_of(in_place[j], dy);
        }
        for (std::size_t j = 0; j < 4; ++j) {
            c.params[j] = data_or_null(params[j]);
            c.buffers[j] = buffers[j].defined() ? buffers[j].data() : nullptr;
            if (params[j].defined() && this->needs_input_grad(N + j)) {
                if (any_wanted && all_in_place) {
                    c.dparams[j] = in_place[j];
                    this->accumulated_in_place(N + j);
                } else {
                    dx[N + j] = basic_tensor<T>::empty(params[j].shape());
                    c.dparams[j] = dx[N + j].data();
                }
            }
        }
        if (any_wanted && all_in_place) c.dparams_mode = kernels::write::accumulate;
        c.y = out.defined() ? const_cast<T*>(out.data()) : nullptr;  // read only
        c.saved = saved.data();
        c.indices = indices.data();
        c.dy = dy.data();
        c.workspace = scratch<T>(with_inputs([&](const auto&... d) { return Op::workspace_size(options, d..., batch); }))
                          .data();
        with_inputs([&](const auto&... d) { Op::backward(options, d..., c); });
    }

    // Whether the storage holding `p` is one that the backward reads (an input, the output, a
    // parameter, a buffer or dy), so that the gradient must not be added into it while it runs.
    bool reads_storage_of(const T* p, const basic_tensor<T>& dy) const noexcept {
        const auto holds = [p](const basic_tensor<T>& t) {
            if (!t.defined() || !t.impl()->store) return false;
            const storage<T>& s = *t.impl()->store;
            return p >= s.data.get() && p < s.data.get() + s.size;
        };
        for (const auto& t : x)
            if (holds(t)) return true;
        for (const auto& t : params)
            if (holds(t)) return true;
        for (const auto& t : buffers)
            if (holds(t)) return true;
        return holds(out) || holds(dy);
    }

    void release_saved() override {
        x = {};
        out = {};
        params = {};
        buffers = {};
        saved = {};
        indices = {};
    }
};

// Runs Op on `inputs` (each [N, ...]) with `params` and `buffers` (undefined where the options drop
// one; buffers are updated in place), and records its node when a gradient is wanted.
template <class Op, class T, std::size_t N>
basic_tensor<T> apply(const typename Op::options_type& options, const std::array<basic_tensor<T>, N>& inputs_in,
                      const std::array<basic_tensor<T>, 4>& params_in, const std::array<basic_tensor<T>, 4>& buffers,
                      const op_state& state = {}) {
    // The inputs and parameters as they are when contiguous (no new handle), else copies.
    std::array<basic_tensor<T>, N> input_copies;
    std::array<const basic_tensor<T>*, N> input_ptrs;
    for (std::size_t i = 0; i < N; ++i) {
        if (inputs_in[i].is_contiguous()) {
            input_ptrs[i] = &inputs_in[i];
        } else {
            input_copies[i] = inputs_in[i].contiguous();
            input_ptrs[i] = &input_copies[i];
        }
    }
    const auto inputs = [&](std::size_t i) -> const basic_tensor<T>& { return *input_ptrs[i]; };
    std::array<ops::dims, N> in;
    for (std::size_t i = 0; i < N; ++i) {
        if constexpr (Op::elementwise) {  // any shape, even a scalar: one run of its elements
            in[i].rank = 1;
            in[i].d[0] = inputs(i).numel();
            continue;
        }
        in[i] = per_sample(Op::name, inputs(i).shape());
        if (inputs(i).size(0) != inputs(0).size(0))
            throw shape_mismatch(std::string(Op::name) + ": the inputs have shapes " + inputs(0).shape().str() +
                                 " and " + inputs(i).shape().str() + ", which differ in their batch size");
    }
    const auto with_inputs = [&](auto&& f) -> decltype(auto) {
        return [&]<std::size_t... I>(std::index_sequence<I...>)->decltype(auto) { return f(in[I]...); }
        (std::make_index_sequence<N>{});
    };
    const ops::rule r = with_inputs([&](const auto&... d) { return Op::output_shape(options, d...); });
    if (!r.ok()) throw shape_mismatch(std::string(Op::name) + ": " + std::string(r.why.view()));
    const std::size_t batch = Op::elementwise ? 1 : inputs(0).size(0);

    std::array<basic_tensor<T>, 4> param_copies;
    std::array<const basic_tensor<T>*, 4> param_ptrs{};  // null where there is none
    for (std::size_t j = 0; j < 4; ++j) {
        if (!params_in[j].defined()) continue;
        if (params_in[j].is_contiguous()) {
            param_ptrs[j] = &params_in[j];
        } else {
            param_copies[j] = params_in[j].contiguous();
            param_ptrs[j] = &param_copies[j];
        }
    }
    basic_tensor<T> y = basic_tensor<T>::empty(Op::elementwise ? inputs(0).shape() : batched(batch, r.out));

    const auto pointers = [&]<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<const basic_tensor<T>*, N + 4>{input_ptrs[I]..., param_ptrs[0], param_ptrs[1],
                                                         param_ptrs[2], param_ptrs[3]};
    }(std::make_index_sequence<N>{});
    bool wanted = false;  // whether a backward can follow: only then is its node recorded
    if (grad_mode::enabled())
        for (const basic_tensor<T>* t : pointers) wanted = wanted || (t && t->requires_grad());

    ops::call<T> c;
    c.batch = batch;
    c.training = state.training;
    c.backward_follows = wanted;
    for (std::size_t i = 0; i < N; ++i) c.x[i] = inputs(i).data();
    c.y = y.data();
    for (std::size_t j = 0; j < 4; ++j) {
        c.params[j] = param_ptrs[j] ? param_ptrs[j]->data() : nullptr;
        c.buffers[j] = buffers[j].defined() ? buffers[j].data() : nullptr;
    }
    c.batches_tracked = state.batches_tracked;
    c.gen = state.gen;
    saved_buffer<T> saved(with_inputs([&](const auto&... d) { return Op::saved_size(options, d..., batch); }));
    saved_buffer<std::int64_t> indices(
        wanted ? with_inputs([&](const auto&... d) { return Op::index_size(options, d..., batch); }) : 0);
    c.saved = saved.data();
    c.indices = indices.data();
    c.workspace =
        scratch<T>(with_inputs([&](const auto&... d) { return Op::workspace_size(options, d..., batch); })).data();
    with_inputs([&](const auto&... d) { Op::forward(options, d..., c); });
    if (!wanted) return y;

    const auto recorded = [&]() -> op_node<Op, T, N>* {
        if constexpr (N == 1)
            return record<op_node<Op, T, N>>(y, {pointers[0], pointers[1], pointers[2], pointers[3], pointers[4]},
                                             options);
        else
            return record<op_node<Op, T, N>>(
                y, {pointers[0], pointers[1], pointers[2], pointers[3], pointers[4], pointers[5]}, options);
    }();
    if (auto* n = recorded) {
        n->in = in;
        n->batch = batch;
        n->training = state.training;
        for (std::size_t i = 0; i < N; ++i) {
            if (Op::backward_reads_input) n->x[i] = n->save(inputs(i));
            n->input_shapes[i] = inputs(i).shape();
        }
        if (Op::backward_reads_output) n->out = n->save(y);
        for (std::size_t j = 0; j < 4; ++j) {
            if (param_ptrs[j]) n->params[j] = n->save(*param_ptrs[j]);
            if (buffers[j].defined() && Op::backward_reads_buffers(options, state.training))
                n->buffers[j] = buffers[j].detach().clone();
        }
        n->saved = std::move(saved);
        n->indices = std::move(indices);
    }
    return y;
}

}  // namespace katachi::eager::detail
