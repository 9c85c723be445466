// katachi/distributed/eager.hpp: data-parallel training of an eager module, in the manner of
// PyTorch's DistributedDataParallel. Needs the katachi library (the eager face) and <mpi.h>;
// katachi/distributed.hpp does not include it, so a graph-face program needs neither.
//
//   katachi::distributed::context mpi(argc, argv);
//   auto net = std::make_shared<eager::nn::sequential>(...);       // materialised (not lazy)
//   distributed::distributed_data_parallel ddp(net);               // rank 0's parameters everywhere
//   optim::sgd<float> opt(eager::nn::optimiser_parameters(ddp.module()), {...});
//   for (const auto& b : loader) {                                 // a rank-sharded data_loader
//       ddp.module().zero_grad();
//       eager::cross_entropy(ddp(data::input_tensor(b)), b.target_span()).backward();
//       opt.step();                                                // gradients are the ranks' mean
//   }
//
// Buckets. The parameters that require grad, in reverse registration order (the order in which a
// sequential model's gradients become final), are packed into buckets of at most bucket_cap_mb
// MiB (a larger parameter gets a bucket of its own); each bucket owns one flat buffer of floats.
//
// One backward. Every bucketed parameter carries a post-accumulate-grad hook (eager/autograd.hpp).
// The first hook of a backward opens a round and queues an end-of-backward callback. With overlap
// on, a hook marks its parameter final; when every parameter of a bucket is final and every
// earlier bucket has been started, the bucket's gradients are copied into its buffer and an
// MPI_Iallreduce starts on it while backward goes on. Buckets start in index order on every rank,
// so the ranks' collectives match. Each hook also calls MPI_Testall on the requests in flight, to
// let MPI progress them. At the end of the backward, the callback starts the buckets still
// waiting, in order (a parameter that got no gradient in this backward counts as its current
// gradient, zero after zero_grad, or zero when it has none), waits for every request, and writes
// the sum divided by the world size back into the gradients. So when backward() returns, the
// gradients are the mean over the ranks, and the optimiser can step. With overlap off, nothing
// happens during backward; at its end, the buckets are all-reduced one after the other with the
// blocking MPI_Allreduce: the baseline that measures what overlap gains.
// Each bucket also carries, per parameter, whether the rank had a gradient for it: a parameter
// that no rank had a gradient for keeps none (and the optimisers skip it, as in one process).
//
// The wait is automatic; synchronize() does it explicitly and is idempotent (it does nothing when
// no round is open). It matters after a backward that threw: its callback never ran, and the next
// forward(), synchronize() or the destructor completes the round (so the other ranks' collectives
// are matched and no MPI request is left dangling). One backward per optimiser step: gradients
// accumulated over several backwards are reduced at each of them.
//
// Errors: an MPI call that fails throws std::runtime_error naming the call; a module with lazy
// parameters not yet materialised, or modules that differ between ranks, are refused (logic_error)
// before anything is broadcast.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <katachi/distributed/collectives.hpp>
#include <katachi/distributed/context.hpp>
#include <katachi/eager/autograd.hpp>
#include <katachi/eager/modules/module.hpp>
#include <katachi/eager/tensor.hpp>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace katachi::distributed {

struct ddp_options {
    double bucket_cap_mb = 25;      // a bucket's largest size in MiB (PyTorch's default)
    bool broadcast_buffers = true;  // every forward first takes rank 0's buffers (running statistics)
    bool overlap = true;            // all-reduce during backward; false: blocking, after it
};

class distributed_data_parallel {
public:
    explicit distributed_data_parallel(std::shared_ptr<eager::nn::module> m, ddp_options options = {})
        : module_(std::move(m)), options_(options) {
        const char* who = "distributed_data_parallel";
        if (!module_) throw std::invalid_argument(std::string(who) + ": the module is null");
        if (!(options_.bucket_cap_mb > 0))
            throw std::invalid_argument(std::string(who) + ": bucket_cap_mb must be positive, got " +
                                        std::to_string(options_.bucket_cap_mb));
        int initialised = 0;
        MPI_Initialized(&initialised);
        if (!initialised)
            throw std::logic_error(std::string(who) +
                                   ": MPI is not initialised (construct a distributed::context first)");
        if (module_->has_uninitialized_params())
            throw std::logic_error(
                std::string(who) +
                ": the module has uninitialized parameters (a lazy module not yet "
                "materialised); materialise it first, with module.materialize(input_shape) "
                "or one forward pass, then wrap it, so that every rank broadcasts and buckets "
                "parameters of the same shapes");
        int size = 1;
        detail::check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
        world_ = static_cast<std::size_t>(size);
        buffers_ = module_->buffers();
        const std::vector<eager::tensor> params = module_->parameters();
        require_same_modules(params);

        // Every rank starts from rank 0's parameters and buffers.
        for (const eager::tensor& t : params) broadcast_values(t);
        for (const eager::tensor& t : buffers_) broadcast_values(t);

        // Buckets: the parameters that require grad, last registered first, up to the cap.
        const std::size_t cap = static_cast<std::size_t>(options_.bucket_cap_mb * 1024.0 * 1024.0);
        for (auto p = params.rbegin(); p != params.rend(); ++p) {
            if (!p->requires_grad()) continue;
            const std::size_t bytes = p->numel() * sizeof(float);
            if (buckets_.empty() ||
                (buckets_.back().elements > 0 && (buckets_.back().elements * sizeof(float) + bytes > cap)))
                buckets_.emplace_back();
            bucket& b = buckets_.back();
            slots_.push_back({*p, buckets_.size() - 1, b.elements, p->numel(), false});
            b.slots.push_back(slots_.size() - 1);
            b.elements += p->numel();
        }
        for (bucket& b : buckets_)
            b.buffer.assign(b.elements + b.slots.size(), 0.0f);  // gradients, then flags
        for (std::size_t i = 0; i < slots_.size(); ++i)
            hooks_.push_back(slots_[i].param.register_post_accumulate_grad_hook(
                [this, i](const eager::tensor&) { gradient_ready(i); }));
    }

    distributed_data_parallel(const distributed_data_parallel&) = delete;
    distributed_data_parallel& operator=(const distributed_data_parallel&) = delete;

    // Takes the hooks off and completes a round left open by a backward that threw, so that the
    // other ranks' all-reduces are matched and no request is left in flight. Never throws: if
    // completing fails, it still waits for the requests already started.
    ~distributed_data_parallel() {
        for (eager::hook_handle& h : hooks_) h.remove();
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (finalised) return;
        try {
            synchronize();
        } catch (...) {
        }
        if (!inflight_.empty())
            MPI_Waitall(static_cast<int>(inflight_.size()), inflight_.data(), MPI_STATUSES_IGNORE);
    }

    // The module's forward: completes a round left open by a backward that threw, takes rank 0's
    // buffers when broadcast_buffers is set, then calls the module.
    eager::tensor forward(const eager::tensor& x) {
        synchronize();
        if (options_.broadcast_buffers)
            for (const eager::tensor& t : buffers_) broadcast_values(t);
        return (*module_)(x);
    }
    eager::tensor operator()(const eager::tensor& x) { return forward(x); }

    eager::nn::module& module() const noexcept { return *module_; }
    const std::shared_ptr<eager::nn::module>& module_ptr() const noexcept { return module_; }
    const ddp_options& options() const noexcept { return options_; }

    // Completes the open round, if any: starts the buckets not yet started, waits for every
    // all-reduce and writes the means into the gradients. Backward does this at its end itself;
    // calling it again does nothing.
    void synchronize() {
        if (!round_open_) return;
        round_open_ = false;  // a failure below must not make every later call retry the round
        if (options_.overlap) {
            while (next_ < buckets_.size()) start(next_++, /*in_backward=*/false);
            wait_all();
        } else {
            reduce_blocking();
        }
        ++stats_.backwards;
    }

    const communication_stats& comm_stats() const noexcept { return stats_; }
    void reset_comm_stats() noexcept { stats_ = {}; }

    // The buckets, in the order they are all-reduced: each one's parameters' element counts.
    std::vector<std::vector<std::size_t>> bucket_layout() const {
        std::vector<std::vector<std::size_t>> out;
        for (const bucket& b : buckets_) {
            out.emplace_back();
            for (std::size_t s : b.slots) out.back().push_back(slots_[s].numel);
        }
        return out;
    }

private:
    struct slot {
        eager::tensor param;
        std::size_t bucket = 0, offset = 0, numel = 0;  // where its gradient goes in its bucket
        bool ready = false;                             // final in this round
    };
    struct bucket {
        std::vector<std::size_t> slots;
        std::size_t elements = 0;  // gradient elements; the buffer has one flag per slot after them
        std::vector<float> buffer;
        std::size_t ready = 0;  // slots final in this round
    };

    void require_same_modules(const std::vector<eager::tensor>& params) const {
        std::int64_t mine[2] = {static_cast<std::int64_t>(params.size()), 0};
        for (const eager::tensor& p : params) mine[1] += static_cast<std::int64_t>(p.numel());
        std::int64_t range[4] = {mine[0], mine[1], -mine[0], -mine[1]};  // max, and -min
        detail::check(MPI_Allreduce(MPI_IN_PLACE, range, 4, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD),
                      "MPI_Allreduce");
        if (range[0] != -range[2] || range[1] != -range[3])
            throw std::logic_error("distributed_data_parallel: the ranks' modules differ (this rank's has " +
                                   std::to_string(mine[0]) + " parameters of " + std::to_string(mine[1]) +
                                   " elements; across the ranks the counts range over " +
                                   std::to_string(-range[2]) + ".." + std::to_string(range[0]) + " and " +
                                   std::to_string(-range[3]) + ".." + std::to_string(range[1]) +
                                   "): build the same model on every rank");
    }

    static void broadcast_values(const eager::tensor& t) {
        broadcast(t.value_span(), 0);
        t.bump_version();
    }

    // A parameter's gradient is final for this backward (its hook).
    void gradient_ready(std::size_t i) {
        if (round_open_ && !callback_queued_) synchronize();  // left open by a backward that threw
        if (!round_open_) open_round();
        slot& s = slots_[i];
        if (s.ready) return;
        s.ready = true;
        if (!options_.overlap) return;
        ++buckets_[s.bucket].ready;
        while (next_ < buckets_.size() && buckets_[next_].ready == buckets_[next_].slots.size())
            start(next_++, /*in_backward=*/true);
        if (!inflight_.empty()) {
            int done = 0;
            detail::check(
                MPI_Testall(static_cast<int>(inflight_.size()), inflight_.data(), &done, MPI_STATUSES_IGNORE),
                "MPI_Testall");
        }
    }

    void open_round() {
        for (slot& s : slots_) s.ready = false;
        for (bucket& b : buckets_) b.ready = 0;
        next_ = 0;
        round_open_ = true;
        // The callback's token tells, when the engine drops it unrun (the backward threw), that
        // this round has lost its end.
        struct token {
            explicit token(distributed_data_parallel* s) noexcept : self(s) {}
            token(const token&) = delete;
            token& operator=(const token&) = delete;
            distributed_data_parallel* self;
            bool ran = false;
            ~token() {
                if (!ran) self->callback_queued_ = false;
            }
        };
        auto end = std::make_shared<token>(this);
        callback_queued_ = true;
        eager::queue_callback([end] {
            end->ran = true;
            end->self->callback_queued_ = false;
            end->self->synchronize();
        });
    }

    // Copies the bucket's gradients (zeros for a parameter without one) and flags into its buffer.
    void pack(bucket& b) {
        float* flags = b.buffer.data() + b.elements;
        for (std::size_t k = 0; k < b.slots.size(); ++k) {
            const slot& s = slots_[b.slots[k]];
            const std::span<float> g = s.param.grad_span();
            float* to = b.buffer.data() + s.offset;
            if (g.empty())
                std::fill(to, to + s.numel, 0.0f);
            else
                std::copy(g.begin(), g.end(), to);
            flags[k] = g.empty() ? 0.0f : 1.0f;
        }
        ++stats_.all_reduces;
        stats_.bytes += b.buffer.size() * sizeof(float);
    }

    // Writes the bucket's sums divided by the world size into the gradients.
    void unpack(bucket& b) {
        const float scale = 1.0f / static_cast<float>(world_);
        const float* flags = b.buffer.data() + b.elements;
        for (std::size_t k = 0; k < b.slots.size(); ++k) {
            slot& s = slots_[b.slots[k]];
            if (flags[k] == 0.0f) continue;  // no rank had a gradient: it keeps none
            if (!s.param.grad().defined())
                s.param.impl()->grad = eager::tensor::zeros(s.param.shape()).impl_ptr();
            const std::span<float> g = s.param.grad_span();
            const float* from = b.buffer.data() + s.offset;
            for (std::size_t j = 0; j < s.numel; ++j) g[j] = from[j] * scale;
        }
    }

    void start(std::size_t index, bool in_backward) {
        bucket& b = buckets_[index];
        pack(b);
        if (in_backward) ++stats_.started_in_backward;
        detail::in_pieces(std::span<float>(b.buffer), [&](float* p, int n) {
            MPI_Request r = MPI_REQUEST_NULL;
            detail::check(MPI_Iallreduce(MPI_IN_PLACE, p, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r),
                          "MPI_Iallreduce");
            inflight_.push_back(r);
        });
    }

    void wait_all() {
        const double t0 = MPI_Wtime();
        const int code =
            MPI_Waitall(static_cast<int>(inflight_.size()), inflight_.data(), MPI_STATUSES_IGNORE);
        stats_.wait_seconds += MPI_Wtime() - t0;
        inflight_.clear();
        detail::check(code, "MPI_Waitall");
        for (bucket& b : buckets_) unpack(b);
    }

    void reduce_blocking() {
        for (bucket& b : buckets_) {
            pack(b);
            const double t0 = MPI_Wtime();
            all_reduce_sum(std::span<float>(b.buffer));
            stats_.wait_seconds += MPI_Wtime() - t0;
            unpack(b);
        }
    }

    std::shared_ptr<eager::nn::module> module_;
    ddp_options options_;
    std::size_t world_ = 1;
    std::vector<eager::tensor> buffers_;
    std::vector<slot> slots_;  // in bucket order: the parameters, last registered first
    std::vector<bucket> buckets_;
    std::vector<eager::hook_handle> hooks_;
    std::vector<MPI_Request> inflight_;
    bool round_open_ = false;
    std::size_t next_ = 0;          // the next bucket to start in this round
    bool callback_queued_ = false;  // the open round's end-of-backward callback is still queued
    communication_stats stats_;
};

}  // namespace katachi::distributed
