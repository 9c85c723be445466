// katachi/random.hpp: katachi's seeded random number generator.
//
// katachi::generator is xoshiro256** (Blackman and Vigna, 2018): 256 bits of state, period 2^256 - 1,
// 64-bit outputs. The state is filled from the 64-bit seed by splitmix64, so every seed (0 too)
// gives a valid, well-mixed state, and the same seed gives the same sequence on every platform.
// It is a C++ UniformRandomBitGenerator, so the standard distributions accept it as well; its own
// uniform() and normal() are defined here bit for bit, which the standard ones are not.
// Used for dropout masks and weight initialisation.
#pragma once

#include <katachi/error.hpp>
#include <array>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>

namespace katachi {

class generator {
public:
    using result_type = std::uint64_t;

    explicit generator(std::uint64_t seed = 0) noexcept {
        for (auto& word : state_) word = splitmix64(seed);
    }

    static constexpr result_type min() noexcept { return 0; }
    static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

    // The next 64 random bits.
    result_type operator()() noexcept {
        const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }

    // Uniform in [0, 1): the top 24 (float) or 53 (double) bits of one draw, scaled; every value
    // is a multiple of 2^-24 or 2^-53, and 1 is never returned.
    template <std::floating_point T = float>
    T uniform() noexcept {
        constexpr int bits = std::numeric_limits<T>::digits;
        return static_cast<T>((*this)() >> (64 - bits)) * (T(1) / static_cast<T>(std::uint64_t{1} << bits));
    }

    // Uniform in [lo, hi).
    template <std::floating_point T>
    T uniform(T lo, T hi) noexcept {
        return lo + (hi - lo) * uniform<T>();
    }

    // Normal with the given mean and standard deviation, by the Box-Muller transform in double:
    // each pair of uniform draws gives two normal values; the second is kept for the next call.
    template <std::floating_point T = float>
    T normal(T mean = T(0), T stddev = T(1)) noexcept {
        double z;
        if (has_spare_) {
            z = spare_;
            has_spare_ = false;
        } else {
            const double u1 = 1.0 - uniform<double>();  // (0, 1]: the logarithm stays finite
            const double u2 = uniform<double>();
            const double radius = std::sqrt(-2.0 * std::log(u1));
            const double angle = 2.0 * std::numbers::pi * u2;
            z = radius * std::cos(angle);
            spare_ = radius * std::sin(angle);
            has_spare_ = true;
        }
        return static_cast<T>(static_cast<double>(mean) + static_cast<double>(stddev) * z);
    }

    // The generator's full state, to save a run and resume it: the four xoshiro256** words, then the
    // Box-Muller spare (its double's bits) and whether it is pending (0 or 1). A generator given this
    // state by set_state continues exactly where this one is, normal() included.
    using state_type = std::array<std::uint64_t, 6>;

    state_type state() const noexcept {
        return {state_[0], state_[1], state_[2], state_[3], std::bit_cast<std::uint64_t>(spare_),
                has_spare_ ? 1u : 0u};
    }

    // Restores a state from state(). Throws std::invalid_argument for one no generator can be in:
    // the four words all zero (xoshiro's fixed point) or a pending flag other than 0 or 1.
    void set_state(const state_type& s) {
        if ((s[0] | s[1] | s[2] | s[3]) == 0)
            KATACHI_THROW(std::invalid_argument, "katachi::generator::set_state: the four state words are all zero");
        if (s[5] > 1)
            KATACHI_THROW(std::invalid_argument, "katachi::generator::set_state: the spare flag is " +
                                        std::to_string(s[5]) + ", not 0 or 1");
        state_ = {s[0], s[1], s[2], s[3]};
        spare_ = std::bit_cast<double>(s[4]);
        has_spare_ = s[5] == 1;
    }

private:
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
        return (x << k) | (x >> (64 - k));
    }

    // splitmix64 (Steele, Lea and Flood): advances `x` and returns one mixed word.
    static constexpr std::uint64_t splitmix64(std::uint64_t& x) noexcept {
        std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    std::array<std::uint64_t, 4> state_{};
    double spare_ = 0;
    bool has_spare_ = false;
};

}  // namespace katachi
