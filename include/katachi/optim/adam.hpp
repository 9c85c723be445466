// katachi/optim/adam.hpp: Adam and AdamW as torch.optim.Adam / torch.optim.AdamW compute them.
//
//   Adam:   g = grad + weight_decay * p           AdamW:  p *= 1 - lr * weight_decay;  g = grad
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2;   (amsgrad: v_max = max(v_max, v))
//   p -= lr / (1 - beta1^t) * m / (sqrt(v or v_max) / sqrt(1 - beta2^t) + eps)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <katachi/error.hpp>
#include <katachi/kernels/simd.hpp>
#include <katachi/optim/parameter.hpp>
#include <katachi/parallel.hpp>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace katachi::optim {

struct adam_options {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0;
    bool amsgrad = false;
};

// AdamW differs in the default weight decay (0.01) and in how it applies it.
struct adamw_options : adam_options {
    adamw_options() { weight_decay = 1e-2; }
};

namespace detail {

// One parameter's update over n elements (v_max null without amsgrad). The constants are values here
// and the arrays never overlap, so the loop vectorizes; the branches are taken once per call.
template <class T, bool Decoupled>
struct adam_rule {
    T step_size, sqrt_bc2, beta1, beta2, eps, one_minus_beta1, one_minus_beta2, weight_decay, decay;
    bool vector = true;  // false: the portable loop alone (a test compares the two)

    void apply(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, T* __restrict v_max,
               std::size_t n) const {
        const bool coupled = !Decoupled && weight_decay != 0;
        if (v_max != nullptr)
            coupled ? run<true, true>(p, g, m, v, v_max, n) : run<true, false>(p, g, m, v, v_max, n);
        else
            coupled ? run<false, true>(p, g, m, v, v_max, n) : run<false, false>(p, g, m, v, v_max, n);
    }

private:
#if KATACHI_AVX2_CODE
    // The loop below, 16 floats at a time in AVX-512 registers: the same operations in the same
    // order (multiplies and adds, no fused multiply-add; sqrt and division correctly rounded), so
    // the same bits. The compiler does not vectorise the loop itself: std::sqrt may set errno.
    // Returns how many elements it did (a multiple of 16).
    template <bool Amsgrad, bool Coupled>
    KATACHI_TARGET_AVX512 std::size_t run_avx512(float* __restrict p, const float* __restrict g,
                                                 float* __restrict m, float* __restrict v,
                                                 float* __restrict v_max, std::size_t n) const {
        const __m512 ss = _mm512_set1_ps(step_size), bc2 = _mm512_set1_ps(sqrt_bc2),
                     b1 = _mm512_set1_ps(beta1), b2 = _mm512_set1_ps(beta2), e = _mm512_set1_ps(eps),
                     c1 = _mm512_set1_ps(one_minus_beta1), c2 = _mm512_set1_ps(one_minus_beta2),
                     wd = _mm512_set1_ps(weight_decay), dec = _mm512_set1_ps(decay);
        // (The masked max and sqrt over every lane: GCC 12 warns of the unmasked ones' undefined source.)
        const __mmask16 all = 0xFFFF;
        std::size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            __m512 d = _mm512_loadu_ps(g + i);
            __m512 value = _mm512_loadu_ps(p + i);
            if constexpr (Decoupled)
                value = _mm512_mul_ps(value, dec);
            else if constexpr (Coupled)
                d = _mm512_add_ps(d, _mm512_mul_ps(wd, value));
            const __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(c1, d));
            const __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)),
                                            _mm512_mul_ps(_mm512_mul_ps(c2, d), d));
            _mm512_storeu_ps(m + i, mi);
            _mm512_storeu_ps(v + i, vi);
            __m512 denominator = vi;
            if constexpr (Amsgrad) {
                // std::max(v_max, vi): vi where it is greater, else v_max (NaN included).
                denominator = _mm512_mask_max_ps(vi, all, vi, _mm512_loadu_ps(v_max + i));
                _mm512_storeu_ps(v_max + i, denominator);
            }
            const __m512 step = _mm512_div_ps(
                _mm512_mul_ps(ss, mi),
                _mm512_add_ps(_mm512_div_ps(_mm512_mask_sqrt_ps(denominator, all, denominator), bc2), e));
            _mm512_storeu_ps(p + i, _mm512_sub_ps(value, step));
        }
        return i;
    }
#endif

    template <bool Amsgrad, bool Coupled>
    void run(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, T* __restrict v_max,
             std::size_t n) const {
        const T ss = step_size, bc2 = sqrt_bc2, b1 = beta1, b2 = beta2, e = eps, c1 = one_minus_beta1,
                c2 = one_minus_beta2, wd = weight_decay, dec = decay;
        std::size_t start = 0;
#if KATACHI_AVX2_CODE
        if constexpr (std::is_same_v<T, float>)
            if (vector && kernels::detail::avx512_available())
                start = run_avx512<Amsgrad, Coupled>(p, g, m, v, v_max, n);
#endif
        for (std::size_t i = start; i < n; ++i) {
            T d = g[i];
            T value = p[i];
            if constexpr (Decoupled)
                value *= dec;
            else if constexpr (Coupled)
                d += wd * value;
            const T mi = b1 * m[i] + c1 * d;
            const T vi = b2 * v[i] + c2 * d * d;
            m[i] = mi;
            v[i] = vi;
            T denominator = vi;
            if constexpr (Amsgrad) denominator = v_max[i] = std::max(v_max[i], vi);
            p[i] = value - ss * mi / (std::sqrt(denominator) / bc2 + e);
        }
    }
};

template <class T, class Options, bool Decoupled>
class adam_impl {
public:
    using group_type = param_group<T, Options>;

    explicit adam_impl(std::vector<parameter<T>> params, Options defaults) : defaults_(defaults) {
        add_param_group(std::move(params), defaults);
    }

    // Defined after the class (not inline), so that KATACHI_EXTERN_KERNELS can take float's from
    // libkatachi (below).
    void add_param_group(std::vector<parameter<T>> params, Options o);
    void add_param_group(std::vector<parameter<T>> params) { add_param_group(std::move(params), defaults_); }

    void step();

    void zero_grad() { optim::zero_grad(groups_); }
    std::vector<group_type>& param_groups() { return groups_; }
    const std::vector<group_type>& param_groups() const { return groups_; }

    struct state {
        std::int64_t step = 0;
        std::vector<T> m, v, v_max;  // exp_avg, exp_avg_sq, max_exp_avg_sq
    };
    // The state of the n-th parameter over all groups.
    const state& parameter_state(std::size_t n) const { return state_.at(n); }
    // Restores the n-th parameter's state when resuming from a saved state.
    void set_parameter_state(std::size_t n, state s) { state_.at(n) = std::move(s); }
    // The number of parameters over all groups.
    std::size_t parameter_count() const noexcept { return state_.size(); }

private:
    Options defaults_;
    std::vector<group_type> groups_;
    std::vector<state> state_;
};

template <class T, class Options, bool Decoupled>
void adam_impl<T, Options, Decoupled>::add_param_group(std::vector<parameter<T>> params, Options o) {
    const char* name = Decoupled ? "adamw" : "adam";
    require_finite_rate(name, o.lr);
    if (!(o.eps >= 0)) KATACHI_THROW(std::invalid_argument, std::string(name) + ": invalid eps");
    if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1))
        KATACHI_THROW(std::invalid_argument, std::string(name) + ": betas must lie in [0, 1)");
    if (o.weight_decay < 0)
        KATACHI_THROW(std::invalid_argument, std::string(name) + ": weight_decay must be non-negative");
    state_.resize(state_.size() + params.size());
    groups_.push_back({std::move(params), o});
}

template <class T, class Options, bool Decoupled>
void adam_impl<T, Options, Decoupled>::step() {
    const char* name = Decoupled ? "adamw" : "adam";
    std::size_t slot = 0;
    for (auto& group : groups_) {
        const Options& o = group.options;
        for (auto& p : group.params) {
            state& s = state_[slot++];
            const std::span<T> value = p.value();
            const std::span<T> grad = p.grad();
            if (grad.empty()) continue;
            check_sizes(name, p.name, value, grad);
            state_buffer(s.m, value.size(), name, p.name);
            state_buffer(s.v, value.size(), name, p.name);
            if (o.amsgrad) state_buffer(s.v_max, value.size(), name, p.name);
            ++s.step;
            const double bc1 = 1 - std::pow(o.beta1, static_cast<double>(s.step));
            const double bc2 = 1 - std::pow(o.beta2, static_cast<double>(s.step));
            const adam_rule<T, Decoupled> rule{static_cast<T>(o.lr / bc1),
                                               static_cast<T>(std::sqrt(bc2)),
                                               static_cast<T>(o.beta1),
                                               static_cast<T>(o.beta2),
                                               static_cast<T>(o.eps),
                                               static_cast<T>(1 - o.beta1),
                                               static_cast<T>(1 - o.beta2),
                                               static_cast<T>(o.weight_decay),
                                               static_cast<T>(1 - o.lr * o.weight_decay)};
            T* const val = value.data();
            const T* const gp = grad.data();
            T* const m = s.m.data();
            T* const sq = s.v.data();
            T* const sq_max = o.amsgrad ? s.v_max.data() : nullptr;
            // Elementwise, so the parameter's elements are split over katachi's threads.
            katachi::detail::parallel_for(
                value.size(), katachi::detail::parallel_parts(value.size(), 8 * value.size()),
                [=](std::size_t begin, std::size_t end, unsigned) {
                    rule.apply(val + begin, gp + begin, m + begin, sq + begin,
                               sq_max == nullptr ? nullptr : sq_max + begin, end - begin);
                });
        }
    }
}

}  // namespace detail

template <class T = float>
class adam : public detail::adam_impl<T, adam_options, false> {
public:
    explicit adam(std::vector<parameter<T>> params, adam_options defaults = {})
        : detail::adam_impl<T, adam_options, false>(std::move(params), defaults) {}
};

template <class T = float>
class adamw : public detail::adam_impl<T, adamw_options, true> {
public:
    explicit adamw(std::vector<parameter<T>> params, adamw_options defaults = {})
        : detail::adam_impl<T, adamw_options, true>(std::move(params), defaults) {}
};

}  // namespace katachi::optim

// A program compiled with KATACHI_EXTERN_KERNELS (katachi/instances.hpp) takes float's Adam and
// AdamW from libkatachi (src/instances.cpp) instead of compiling their step.
#define KATACHI_ADAM_INSTANCES(EXTERN)                                   \
    EXTERN template class detail::adam_impl<float, adam_options, false>; \
    EXTERN template class detail::adam_impl<float, adamw_options, true>; \
    EXTERN template class adam<float>;                                   \
    EXTERN template class adamw<float>;
#if defined(KATACHI_EXTERN_KERNELS)
namespace katachi::optim {
KATACHI_ADAM_INSTANCES(extern)
}  // namespace katachi::optim
#endif
