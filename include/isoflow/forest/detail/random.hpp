// Random streams for tree building. Every tree has its own stream, derived from the forest's
// seed and the tree's index, so a forest is the same bit for bit whatever the number of threads
// and whatever order trees are built in. The generators are specified here (not taken from
// <random>, whose distributions differ between standard libraries) so that a seed gives the
// same forest on every platform.
#pragma once

#include <cstdint>

namespace isoflow::detail {

// SplitMix64 (Steele, Lea and Flood): used to spread a seed over a generator's state.
[[nodiscard]] constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// xoshiro256** (Blackman and Vigna), a small, fast generator with a 2^256 period.
class Xoshiro256 {
public:
    explicit constexpr Xoshiro256(std::uint64_t seed) noexcept {
        std::uint64_t s = seed;
        for (auto& word : state_) word = splitmix64(s);
    }

    // The stream of tree `index` in a forest seeded with `seed`.
    [[nodiscard]] static constexpr Xoshiro256 for_stream(std::uint64_t seed,
                                                         std::uint64_t index) noexcept {
        std::uint64_t s = seed;
        const std::uint64_t base = splitmix64(s);
        std::uint64_t t = base ^ (index * 0xD1B54A32D192ED03ull);
        return Xoshiro256(splitmix64(t));
    }

    constexpr std::uint64_t next() noexcept {
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

    // Uniform in [0, 1), with 53 random bits.
    constexpr double uniform() noexcept {
        return static_cast<double>(next() >> 11) * 0x1.0p-53;
    }

    // Uniform in [0, bound) without bias (Lemire's multiply-and-reject method). bound > 0.
    constexpr std::uint64_t below(std::uint64_t bound) noexcept {
        std::uint64_t high = 0;
        std::uint64_t low = multiply(next(), bound, high);
        if (low < bound) {
            const std::uint64_t threshold = (0 - bound) % bound;
            while (low < threshold) low = multiply(next(), bound, high);
        }
        return high;
    }

private:
    // The 128-bit product a * b: returns the low half and stores the high half.
    static constexpr std::uint64_t multiply(std::uint64_t a, std::uint64_t b,
                                            std::uint64_t& high) noexcept {
        const std::uint64_t a_lo = a & 0xFFFFFFFFu, a_hi = a >> 32;
        const std::uint64_t b_lo = b & 0xFFFFFFFFu, b_hi = b >> 32;
        const std::uint64_t lo_lo = a_lo * b_lo;
        const std::uint64_t hi_lo = a_hi * b_lo;
        const std::uint64_t lo_hi = a_lo * b_hi;
        const std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xFFFFFFFFu) + lo_hi;
        high = a_hi * b_hi + (hi_lo >> 32) + (cross >> 32);
        return (cross << 32) | (lo_lo & 0xFFFFFFFFu);
    }
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
        return (x << k) | (x >> (64 - k));
    }
    std::uint64_t state_[4]{};
};

}  // namespace isoflow::detail
