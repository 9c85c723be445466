// The batch norm layers.
#include "katachi/eager/modules/batch_norm.hpp"

#include <sstream>

#include "katachi/eager/functional/layers.hpp"
#include "katachi/eager/modules/init.hpp"
#include "op_module.hpp"

namespace katachi::eager::nn {

namespace {
std::string number(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}
}  // namespace

batch_norm_base::batch_norm_base(const batch_norm_options& o, bool lazy, const char* name) : options(o) {
    const auto make = [&](const char* what) {
        return lazy ? tensor(detail::uninitialized_parameter(std::string(name) + "." + what))
                    : tensor::empty({o.num_features});
    };
    if (o.affine) {
        weight = parameter(register_parameter("weight", make("weight")));
        bias = parameter(register_parameter("bias", make("bias")));
    }
    if (o.track_running_stats) {
        running_mean = register_buffer("running_mean", make("running_mean"));
        running_var = register_buffer("running_var", make("running_var"));
        running_mean.impl()->requires_grad = running_var.impl()->requires_grad = false;
    }
    if (lazy)
        options.num_features = 0;
    else
        reset_parameters();
}

void batch_norm_base::reset_running_stats() {
    if (!options.track_running_stats) return;
    init::zeros_(running_mean);
    init::ones_(running_var);
    num_batches_tracked = 0;
}

void batch_norm_base::reset_parameters() {
    reset_running_stats();
    if (options.affine) {
        init::ones_(weight);
        init::zeros_(bias);
    }
}

tensor batch_norm_base::forward(const tensor& x) {
    return run(x);
}

sizes batch_norm_base::output_shape(const sizes& input) const {
    return rule(input);
}

namespace {
template <class Op>
tensor run_op(batch_norm_base& m, const tensor& x) {
    return eager::detail::apply<Op, float, 1>(
        m.options, {x}, {m.weight, m.bias}, {m.running_mean, m.running_var},
        {.training = m.is_training(),
         .batches_tracked = m.options.track_running_stats ? &m.num_batches_tracked : nullptr});
}
}  // namespace

tensor batch_norm1d::run(const tensor& x) {
    return run_op<ops::batch_norm1d>(*this, x);
}
sizes batch_norm1d::rule(const sizes& input) const {
    return detail::op_output_shape<ops::batch_norm1d>(type_name(), options, input);
}
tensor batch_norm2d::run(const tensor& x) {
    return run_op<ops::batch_norm2d>(*this, x);
}
sizes batch_norm2d::rule(const sizes& input) const {
    return detail::op_output_shape<ops::batch_norm2d>(type_name(), options, input);
}

std::string batch_norm_base::extra_repr() const {
    const bool lazy = has_uninitialized_params();
    return (lazy ? std::string("uninitialized") : std::to_string(options.num_features)) +
           ", eps=" + number(options.eps) +
           ", momentum=" + (options.momentum.has_value() ? number(options.momentum.value()) : "None") +
           ", affine=" + (options.affine ? "true" : "false") +
           ", track_running_stats=" + (options.track_running_stats ? "true" : "false") +
           (options.sync ? ", sync=true" : "");
}

module& convert_sync_batch_norm(module& m) {
    m.apply([](module& each) {
        if (auto* bn = dynamic_cast<batch_norm_base*>(&each)) bn->options.sync = true;
    });
    return m;
}

void batch_norm_base::save_own_state(const std::string& prefix, state_map& out) const {
    module::save_own_state(prefix, out);
    if (options.track_running_stats) {
        const std::int64_t n = num_batches_tracked;
        out.insert_or_assign(prefix + "num_batches_tracked",
                             io::tensor::from<std::int64_t>(std::span(&n, 1), {}));
    }
}

void batch_norm_base::load_own_state(const std::string& prefix, const state_map& state, load_plan& plan) {
    module::load_own_state(prefix, state, plan);
    if (!options.track_running_stats) return;
    const std::string key = prefix + "num_batches_tracked";
    const auto it = state.find(key);
    if (it == state.end()) {
        plan.missing(key);
        return;
    }
    plan.use(key);
    std::int64_t count = 0;
    try {
        const auto v = it->second.as<std::int64_t>();
        if (v.size() != 1) throw shape_mismatch("load_state_dict: \"" + key + "\" must hold one value");
        count = *v.begin();
    } catch (const io::safetensors_error& e) {
        throw io::safetensors_error("", key, e.rule(), "load_state_dict: " + e.detail());
    }
    plan.then([this, count] { num_batches_tracked = count; });
}

std::optional<std::size_t> batch_norm_base::lazy_size_from(const state_map& state,
                                                           const std::string& prefix) const {
    for (const char* name : {"weight", "running_mean"}) {
        const auto it = state.find(prefix + name);
        if (it != state.end() && it->second.shape.size() == 1) return it->second.shape[0];
    }
    return std::nullopt;
}

void batch_norm_base::lazy_materialize(std::size_t c) {
    options.num_features = c;
    for (tensor* t :
         {static_cast<tensor*>(&weight), static_cast<tensor*>(&bias), &running_mean, &running_var})
        if (t->defined()) detail::materialize_tensor(*t, {c});
    reset_parameters();
}

std::size_t batch_norm1d::lazy_input_size(const sizes& input) {
    if (input.size() != 2 && input.size() != 3)
        throw shape_mismatch("lazy_batch_norm1d: the input has shape " + input.str() +
                             ", expected [N, C] or [N, C, L]");
    return input[1];
}

std::size_t batch_norm2d::lazy_input_size(const sizes& input) {
    if (input.size() != 4)
        throw shape_mismatch("lazy_batch_norm2d: the input has shape " + input.str() +
                             ", expected [N, C, H, W]");
    return input[1];
}

}  // namespace katachi::eager::nn
