#pragma once
// IEEE 754 half precision storage for forward-index values (Seismic keeps values in f16, scores in f32).
// Portable bit manipulation: no F16C requirement, so the same binary runs on every x86-64 node.
#include <array>
#include <bit>
#include <cstdint>

namespace aftershock::seismic {

/// Rounds a float to the nearest half (ties to even); overflow saturates to +-inf, NaN stays NaN.
[[nodiscard]] constexpr std::uint16_t f32_to_f16(float value) noexcept {
    const auto x = std::bit_cast<std::uint32_t>(value);
    const std::uint32_t sign = (x >> 16) & 0x8000U;
    const std::uint32_t abs = x & 0x7FFFFFFFU;
    if (abs >= 0x7F800000U) {  // inf or NaN
        return static_cast<std::uint16_t>(sign | 0x7C00U | (abs > 0x7F800000U ? 0x200U : 0U));
    }
    if (abs >= 0x477FF000U) return static_cast<std::uint16_t>(sign | 0x7C00U);  // rounds past 65504
    if (abs < 0x38800000U) {  // subnormal half (or zero)
        if (abs < 0x33000000U) return static_cast<std::uint16_t>(sign);  // below half the smallest subnormal
        const std::uint32_t mant = (abs & 0x7FFFFFU) | 0x800000U;
        const int shift = 126 - static_cast<int>(abs >> 23);  // 14..24
        const std::uint32_t half = mant >> (shift);
        const std::uint32_t rem = mant & ((1U << shift) - 1U);
        const std::uint32_t mid = 1U << (shift - 1);
        const std::uint32_t rounded = half + ((rem > mid || (rem == mid && (half & 1U))) ? 1U : 0U);
        return static_cast<std::uint16_t>(sign | rounded);
    }
    const std::uint32_t biased = abs - 0x38000000U;  // rebias exponent 127 -> 15
    const std::uint32_t half = biased >> 13;
    const std::uint32_t rem = biased & 0x1FFFU;
    const std::uint32_t rounded = half + ((rem > 0x1000U || (rem == 0x1000U && (half & 1U))) ? 1U : 0U);
    return static_cast<std::uint16_t>(sign | rounded);
}

/// A half is infinite or NaN when its exponent bits are all ones.
[[nodiscard]] constexpr bool finite_half(std::uint16_t h) noexcept { return (h & 0x7C00U) != 0x7C00U; }

[[nodiscard]] constexpr float f16_to_f32_slow(std::uint16_t h) noexcept {
    const std::uint32_t sign = (std::uint32_t{h} & 0x8000U) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1FU;
    std::uint32_t mant = h & 0x3FFU;
    if (exp == 0x1FU) return std::bit_cast<float>(sign | 0x7F800000U | (mant << 13));
    if (exp == 0) {
        if (mant == 0) return std::bit_cast<float>(sign);
        int e = -1;  // normalise the subnormal
        do {
            ++e;
            mant <<= 1;
        } while ((mant & 0x400U) == 0);
        return std::bit_cast<float>(sign | ((112U - static_cast<std::uint32_t>(e)) << 23) | ((mant & 0x3FFU) << 13));
    }
    return std::bit_cast<float>(sign | ((exp + 112U) << 23) | (mant << 13));
}

/// Table lookup (256 KiB, shared): the hot loop converts one value per scored posting component.
struct F16Table {
    std::array<float, 65536> values{};
    constexpr F16Table() {
        for (std::uint32_t i = 0; i < 65536; ++i) values[i] = f16_to_f32_slow(static_cast<std::uint16_t>(i));
    }
};
extern const F16Table kF16Table;

[[nodiscard]] inline float f16_to_f32(std::uint16_t h) noexcept { return kF16Table.values[h]; }

}  // namespace aftershock::seismic
