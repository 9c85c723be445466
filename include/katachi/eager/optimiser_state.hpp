// katachi/eager/optimiser_state.hpp: an optimiser's own state dict, to save a run and resume it.
//
// The keys follow torch.optim's state_dict(), flattened for safetensors: per parameter n (counted
// over all groups, in order) "state.<n>.momentum_buffer" (sgd) or "state.<n>.step",
// "state.<n>.exp_avg", "state.<n>.exp_avg_sq", "state.<n>.max_exp_avg_sq" (adam, adamw), present once
// the parameter has been stepped; per group g the options as rank-0 float64 entries,
// "param_groups.<g>.lr", ".momentum", ".betas0", ... Loading into an optimiser built over the same
// parameters restores its buffers and options, so the next step is the one the saved run would take.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "katachi/io/safetensors.hpp"
#include "katachi/optim/adam.hpp"
#include "katachi/optim/sgd.hpp"

namespace katachi::eager {

namespace detail {

template <class T>
void put_vector(io::tensor_map& out, const std::string& key, const std::vector<T>& v) {
    if (!v.empty()) out.insert_or_assign(key, io::tensor::from<T>(std::span<const T>(v), {v.size()}));
}

inline void put_number(io::tensor_map& out, const std::string& key, double v) {
    out.insert_or_assign(key, io::tensor::from<double>(std::span<const double>(&v, 1), {}));
}

template <class T>
std::vector<T> get_vector(const io::tensor_map& in, const std::string& key) {
    const auto it = in.find(key);
    if (it == in.end()) return {};
    const auto a = it->second.as<T>();
    return {a.begin(), a.end()};
}

inline void get_number(const io::tensor_map& in, const std::string& key, double& v) {
    const auto it = in.find(key);
    if (it == in.end())
        throw std::runtime_error("load_optimiser_state: the state dict lacks \"" + key + "\"");
    v = *it->second.as<double>().begin();
}

inline std::string state_key(std::size_t n, const char* what) {
    return "state." + std::to_string(n) + "." + what;
}
inline std::string group_key(std::size_t g, const char* what) {
    return "param_groups." + std::to_string(g) + "." + what;
}

template <class Optimiser>
void check_layout(const Optimiser& opt, const io::tensor_map& in) {
    std::size_t groups = 0;
    while (in.count(group_key(groups, "lr"))) ++groups;
    if (groups != opt.param_groups().size())
        throw std::runtime_error("load_optimiser_state: the state dict has " + std::to_string(groups) +
                                 " parameter groups but the optimiser has " +
                                 std::to_string(opt.param_groups().size()));
}

}  // namespace detail

template <class T>
io::tensor_map optimiser_state_dict(const optim::sgd<T>& opt) {
    io::tensor_map out;
    for (std::size_t n = 0; n < opt.parameter_count(); ++n)
        detail::put_vector(out, detail::state_key(n, "momentum_buffer"), opt.momentum_buffer(n));
    for (std::size_t g = 0; g < opt.param_groups().size(); ++g) {
        const optim::sgd_options& o = opt.param_groups()[g].options;
        detail::put_number(out, detail::group_key(g, "lr"), o.lr);
        detail::put_number(out, detail::group_key(g, "momentum"), o.momentum);
        detail::put_number(out, detail::group_key(g, "dampening"), o.dampening);
        detail::put_number(out, detail::group_key(g, "weight_decay"), o.weight_decay);
        detail::put_number(out, detail::group_key(g, "nesterov"), o.nesterov ? 1 : 0);
    }
    return out;
}

template <class T>
void load_optimiser_state_dict(optim::sgd<T>& opt, const io::tensor_map& in) {
    detail::check_layout(opt, in);
    for (std::size_t n = 0; n < opt.parameter_count(); ++n)
        opt.set_momentum_buffer(n, detail::get_vector<T>(in, detail::state_key(n, "momentum_buffer")));
    for (std::size_t g = 0; g < opt.param_groups().size(); ++g) {
        optim::sgd_options& o = opt.param_groups()[g].options;
        double nesterov = 0;
        detail::get_number(in, detail::group_key(g, "lr"), o.lr);
        detail::get_number(in, detail::group_key(g, "momentum"), o.momentum);
        detail::get_number(in, detail::group_key(g, "dampening"), o.dampening);
        detail::get_number(in, detail::group_key(g, "weight_decay"), o.weight_decay);
        detail::get_number(in, detail::group_key(g, "nesterov"), nesterov);
        o.nesterov = nesterov != 0;
    }
}

// adam and adamw: optimisers with Adam's per-parameter state (step, m, v, v_max).
template <class O>
concept adam_like = requires(const O& o) {
    o.parameter_state(0).v_max;
    o.parameter_count();
};

template <adam_like Adam>
io::tensor_map optimiser_state_dict(const Adam& opt) {
    io::tensor_map out;
    for (std::size_t n = 0; n < opt.parameter_count(); ++n) {
        const auto& s = opt.parameter_state(n);
        if (s.step == 0) continue;
        const std::int64_t step = s.step;
        out.insert_or_assign(detail::state_key(n, "step"),
                             io::tensor::from<std::int64_t>(std::span<const std::int64_t>(&step, 1), {}));
        detail::put_vector(out, detail::state_key(n, "exp_avg"), s.m);
        detail::put_vector(out, detail::state_key(n, "exp_avg_sq"), s.v);
        detail::put_vector(out, detail::state_key(n, "max_exp_avg_sq"), s.v_max);
    }
    for (std::size_t g = 0; g < opt.param_groups().size(); ++g) {
        const auto& o = opt.param_groups()[g].options;
        detail::put_number(out, detail::group_key(g, "lr"), o.lr);
        detail::put_number(out, detail::group_key(g, "betas0"), o.beta1);
        detail::put_number(out, detail::group_key(g, "betas1"), o.beta2);
        detail::put_number(out, detail::group_key(g, "eps"), o.eps);
        detail::put_number(out, detail::group_key(g, "weight_decay"), o.weight_decay);
        detail::put_number(out, detail::group_key(g, "amsgrad"), o.amsgrad ? 1 : 0);
    }
    return out;
}

template <adam_like Adam>
void load_optimiser_state_dict(Adam& opt, const io::tensor_map& in) {
    detail::check_layout(opt, in);
    using scalar = typename std::remove_cvref_t<decltype(opt.parameter_state(0).m)>::value_type;
    for (std::size_t n = 0; n < opt.parameter_count(); ++n) {
        typename Adam::state s;
        const auto step = detail::get_vector<std::int64_t>(in, detail::state_key(n, "step"));
        s.step = step.empty() ? 0 : step.front();
        s.m = detail::get_vector<scalar>(in, detail::state_key(n, "exp_avg"));
        s.v = detail::get_vector<scalar>(in, detail::state_key(n, "exp_avg_sq"));
        s.v_max = detail::get_vector<scalar>(in, detail::state_key(n, "max_exp_avg_sq"));
        opt.set_parameter_state(n, std::move(s));
    }
    for (std::size_t g = 0; g < opt.param_groups().size(); ++g) {
        auto& o = opt.param_groups()[g].options;
        double amsgrad = 0;
        detail::get_number(in, detail::group_key(g, "lr"), o.lr);
        detail::get_number(in, detail::group_key(g, "betas0"), o.beta1);
        detail::get_number(in, detail::group_key(g, "betas1"), o.beta2);
        detail::get_number(in, detail::group_key(g, "eps"), o.eps);
        detail::get_number(in, detail::group_key(g, "weight_decay"), o.weight_decay);
        detail::get_number(in, detail::group_key(g, "amsgrad"), amsgrad);
        o.amsgrad = amsgrad != 0;
    }
}

}  // namespace katachi::eager
