// katachi/eager/modules/batch_norm.hpp: batch_norm1d and batch_norm2d (torch.nn.BatchNorm1d/2d).
//
// In training the batch statistics normalise and the running ones move by `momentum` (the
// unbiased variance), and num_batches_tracked counts the batches; in evaluation the running
// statistics normalise. running_mean/running_var are buffers; num_batches_tracked is saved as an
// int64 entry, as PyTorch saves it. momentum = std::nullopt is PyTorch's None, a cumulative average.
// Both are eager adaptors of katachi/ops/batch_norm.hpp.
//
// Synchronised batch norm (PyTorch's nn.SyncBatchNorm) is the option .sync = true: in training the
// statistics are those of every rank's batch together, through the cross-rank sum that
// distributed::context installs (katachi/ops/batch_norm.hpp says what is summed). Without it, each
// rank of a data-parallel run normalises by its own batch, as under PyTorch's DDP.
// convert_sync_batch_norm(m) turns on .sync in every batch norm of a module tree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "katachi/eager/modules/linear.hpp"
#include "katachi/eager/modules/module.hpp"
#include "katachi/ops/batch_norm.hpp"

namespace katachi::eager::nn {

// num_features (ignored by the lazy forms), eps, momentum, affine, track_running_stats, sync.
using batch_norm_options = ops::batch_norm_options;

class batch_norm_base : public module {
public:
    using options_type = batch_norm_options;
    tensor forward(const tensor& x) override;
    sizes output_shape(const sizes& input) const override;
    std::string extra_repr() const override;
    void reset_running_stats();
    void reset_parameters();  // weight 1, bias 0, running statistics reset

    batch_norm_options options;
    parameter weight, bias;            // [C]; undefined without affine
    tensor running_mean, running_var;  // [C]; undefined without track_running_stats
    std::int64_t num_batches_tracked = 0;

protected:
    batch_norm_base(const batch_norm_options& o, bool lazy, const char* lazy_name);
    // The op's forward and rule (ops::batch_norm1d or ops::batch_norm2d).
    virtual tensor run(const tensor& x) = 0;
    virtual sizes rule(const sizes& input) const = 0;
    void save_own_state(const std::string& prefix, state_map& out) const override;
    void load_own_state(const std::string& prefix, const state_map& state, load_plan& plan) override;
    std::optional<std::size_t> lazy_size_from(const state_map& state, const std::string& prefix) const;
    void lazy_materialize(std::size_t num_features);
};

// Input [N, C] or [N, C, L].
class batch_norm1d : public batch_norm_base {
public:
    explicit batch_norm1d(const batch_norm_options& o) : batch_norm_base(o, false, lazy_name) {}
    std::string type_name() const override { return "batch_norm1d"; }

protected:
    batch_norm1d(lazy_init_t, const batch_norm_options& o) : batch_norm_base(o, true, lazy_name) {}
    static constexpr const char* lazy_name = "lazy_batch_norm1d";
    static std::size_t lazy_input_size(const sizes& input);
    tensor run(const tensor& x) override;
    sizes rule(const sizes& input) const override;
};

// Input [N, C, H, W].
class batch_norm2d : public batch_norm_base {
public:
    explicit batch_norm2d(const batch_norm_options& o) : batch_norm_base(o, false, lazy_name) {}
    std::string type_name() const override { return "batch_norm2d"; }

protected:
    batch_norm2d(lazy_init_t, const batch_norm_options& o) : batch_norm_base(o, true, lazy_name) {}
    static constexpr const char* lazy_name = "lazy_batch_norm2d";
    static std::size_t lazy_input_size(const sizes& input);
    tensor run(const tensor& x) override;
    sizes rule(const sizes& input) const override;
};

// Makes every batch norm in m and its descendants (lazy ones included) synchronised, in place, and
// returns m. Unlike PyTorch's SyncBatchNorm.convert_sync_batchnorm, which builds new modules, the
// modules stay the same objects: their parameters, buffers and an optimiser holding them are
// untouched, and the modules keep their type names. Call it before training starts.
module& convert_sync_batch_norm(module& m);

}  // namespace katachi::eager::nn
