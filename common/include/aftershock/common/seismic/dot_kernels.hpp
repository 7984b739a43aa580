#pragma once
// Scoring kernels of the forward index: <dense f32 query, f16 document>. The scalar kernels are the reference
// (portable, f16 through a lookup table); the AVX2+F16C kernels give bit-identical results: the same four
// accumulators fed in the same order, multiply then add (no FMA: the kernels are compiled without it, and
// the build keeps -ffp-contract=off), the same tail and the same final reduction. They are chosen once at
// run time, so the binary stays portable (no -march).
#include "aftershock/common/seismic/f16.hpp"

#include <cstdint>

namespace aftershock::seismic {

/// Narrow layout: each entry is component | f16 value << 16.
using DotPackedFn = float (*)(const std::uint32_t* entries, std::uint32_t len, const float* q) noexcept;
/// Wide layout: u32 components and f16 values side by side.
using DotWideFn = float (*)(const std::uint32_t* components, const std::uint16_t* values, std::uint32_t len,
                            const float* q) noexcept;

/// The four running sums of a dot product part way through a document. Sum j receives terms j, j+4, j+8, ... in
/// order, so after a whole number of groups of four they stand exactly where a whole-document product has them at
/// that point: screening can score a prefix and, for a document that passes, carry on from there.
struct DotSums {
    float s[4] = {0.0F, 0.0F, 0.0F, 0.0F};
    [[nodiscard]] float total() const noexcept { return (s[0] + s[1]) + (s[2] + s[3]); }
};
/// Adds n entries to the sums: whole groups of four to sums 0-3, the last n % 4 to sum 0. Only a multiple of 4 leaves
/// sums that a later call can carry on from.
using SumPackedFn = void (*)(const std::uint32_t* entries, std::uint32_t n, const float* q, DotSums& sums) noexcept;
using SumWideFn = void (*)(const std::uint32_t* components, const std::uint16_t* values, std::uint32_t n,
                           const float* q, DotSums& sums) noexcept;

struct DotKernels {
    DotPackedFn packed;
    DotWideFn wide;
    SumPackedFn packed_sums;
    SumWideFn wide_sums;
    const char* name;
};

// Four independent sums hide the add latency; the order is fixed, so scores are reproducible (they may
// differ from a sequential sum in the last bits). term(i) is q[component i] * value i; the last len % 4 terms go
// to sum 0, in order.
template <typename Term> inline void add_terms4(std::uint32_t len, Term&& term, DotSums& sums) noexcept {
    float s0 = sums.s[0];
    float s1 = sums.s[1];
    float s2 = sums.s[2];
    float s3 = sums.s[3];
    std::uint32_t i = 0;
    for (; i + 4 <= len; i += 4) {
        s0 += term(i);
        s1 += term(i + 1);
        s2 += term(i + 2);
        s3 += term(i + 3);
    }
    for (; i < len; ++i) s0 += term(i);
    sums = {{s0, s1, s2, s3}};
}

/// Adds entries [0, len) to the sums: those of a multiple of 4 stay in their groups, the rest go to sum 0.
inline void sum_packed_scalar(const std::uint32_t* e, std::uint32_t len, const float* q, DotSums& sums) noexcept {
    add_terms4(len, [&](std::uint32_t i) { return q[e[i] & 0xFFFFU] * f16_to_f32(static_cast<std::uint16_t>(e[i] >> 16)); },
               sums);
}
inline void sum_wide_scalar(const std::uint32_t* c, const std::uint16_t* v, std::uint32_t len, const float* q,
                            DotSums& sums) noexcept {
    add_terms4(len, [&](std::uint32_t i) { return q[c[i]] * f16_to_f32(v[i]); }, sums);
}
[[nodiscard]] inline float dot_packed_scalar(const std::uint32_t* e, std::uint32_t len, const float* q) noexcept {
    DotSums sums;
    sum_packed_scalar(e, len, q, sums);
    return sums.total();
}
[[nodiscard]] inline float dot_wide_scalar(const std::uint32_t* c, const std::uint16_t* v, std::uint32_t len,
                                           const float* q) noexcept {
    DotSums sums;
    sum_wide_scalar(c, v, len, q, sums);
    return sums.total();
}

/// The scalar kernels.
[[nodiscard]] const DotKernels& scalar_kernels() noexcept;
/// The AVX2+F16C kernels, or nullptr on a CPU (or compiler) without them. They load the query's weights one by one.
[[nodiscard]] const DotKernels* avx2_kernels() noexcept;
/// The same with gather instructions for the query's weights (slower on this project's AMD EPYC, Zen 5; kept for other
/// CPUs and A/B).
[[nodiscard]] const DotKernels* avx2_gather_kernels() noexcept;
/// The kernels scoring uses: AVX2 where the CPU has it, unless AFTERSHOCK_SIMD=0 (scalar) or AFTERSHOCK_SIMD=gather
/// (read once; the A/B switch).
[[nodiscard]] const DotKernels& active_kernels() noexcept;

}  // namespace aftershock::seismic
