#include "aftershock/common/seismic/screening_table.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AFTERSHOCK_AVX512_SCREENING 1
#endif

namespace aftershock::seismic {
namespace {

/// A table's slot for a component: the top 6 bits of the 16-bit product, as the kernel's vpmullw + vpsrlw compute it.
constexpr unsigned slot(std::uint32_t component, std::uint16_t multiplier) noexcept {
    return static_cast<std::uint16_t>(component * multiplier) >> 10;
}

/// Weights are stored as the bfloat16 of w x 2^112, so that the kernel can multiply them by the document's half
/// converted without its 2^112 scale (the exponent shift of an f16 moved into the f32 exponent field).
constexpr float kHalfScale = 0x1p112F;

/// Round to nearest even, upper 16 bits of the f32. Only called on finite values whose scaled form stays finite.
std::uint32_t scaled_bits(float w) noexcept { return std::bit_cast<std::uint32_t>(w * kHalfScale); }
std::uint16_t to_scaled_bf16(float w) noexcept {
    const auto u = scaled_bits(w);
    return static_cast<std::uint16_t>((u + 0x7FFFU + ((u >> 16) & 1U)) >> 16);
}

/// Fixed multipliers (odd, spread bits): the tables, and so the estimates, are the same on every run.
std::uint16_t multiplier(unsigned attempt, unsigned table) noexcept {
    std::uint64_t x = 0x9E3779B97F4A7C15ULL * (attempt * ScreeningTable::kMaxTables + table + 1);
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 29;
    return static_cast<std::uint16_t>(x | 1U);
}

#ifdef AFTERSHOCK_AVX512_SCREENING
#define AFTERSHOCK_AVX512 [[gnu::target("avx512f,avx512bw,fma")]]

// The masked forms below (all lanes on) stand in for the plain ones, whose GCC 12 headers read an "undefined" register
// and warn that it may be used uninitialized.
AFTERSHOCK_AVX512 inline float horizontal_sum(__m512 v) noexcept {
    const __m512d d = _mm512_castps_pd(v);
    const __m256 lo = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, d, 0));
    const __m256 hi = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, d, 1));
    const __m256 s8 = _mm256_add_ps(lo, hi);
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

/// Two registers of one u16 field of table k (64 slots).
AFTERSHOCK_AVX512 inline void load_field(const std::array<std::uint16_t, ScreeningTable::kSlots>& field, __m512i& lo,
                                         __m512i& hi) noexcept {
    lo = _mm512_load_si512(field.data());
    hi = _mm512_load_si512(field.data() + 32);
}

/// The tables' components and hash multipliers in registers: which lanes of 16 entries a table holds, and where.
template <unsigned N> struct KeyRegisters {
    __m512i keys_lo[N], keys_hi[N], mult[N];
    AFTERSHOCK_AVX512 explicit KeyRegisters(const ScreeningTable::Tables& t) noexcept {
        for (unsigned k = 0; k < N; ++k) {
            load_field(t.keys[k], keys_lo[k], keys_hi[k]);
            mult[k] = _mm512_set1_epi16(static_cast<short>(t.multipliers[k]));
        }
    }
    /// The lanes whose component table k holds, and each lane's slot (in the low 16 bits; the high half hashes the
    /// value and is ignored by everything that reads the slot).
    AFTERSHOCK_AVX512 __mmask16 lookup(unsigned k, __m512i x, __m512i& slots) const noexcept {
        slots = _mm512_srli_epi16(_mm512_mullo_epi16(x, mult[k]), 10);
        const __m512i key = _mm512_permutex2var_epi16(keys_lo[k], slots, keys_hi[k]);
        return _mm512_testn_epi32_mask(_mm512_xor_si512(key, x), _mm512_set1_epi32(0xFFFF));
    }
};

/// The f16 in each lane's high half as an f32 of 2^-112 its value (sign, exponent and mantissa moved into place; exact
/// for every finite half): times a weight stored x 2^112, the product is weight x value rounded once.
AFTERSHOCK_AVX512 inline __m512 scaled_half(__m512i x) noexcept {
    const __m512i half_bits = _mm512_set1_epi32(static_cast<int>(0x8FFFE000U));
    return _mm512_castsi512_ps(_mm512_and_si512(_mm512_maskz_srai_epi32(0xFFFF, x, 3), half_bits));
}

template <unsigned N>
AFTERSHOCK_AVX512 void score_prefixes_avx512(const ScreeningTable::Tables& t, const std::uint32_t* packed,
                                             std::span<const PackedPosting> postings, std::uint32_t n,
                                             float* out) noexcept {
    const KeyRegisters<N> keys(t);
    __m512i weights_lo[N];
    __m512i weights_hi[N];
    for (unsigned k = 0; k < N; ++k) load_field(t.weights[k], weights_lo[k], weights_hi[k]);
    for (std::size_t i = 0; i < postings.size(); ++i) {
        const auto p = postings[i];
        const std::uint32_t* e = packed + posting_offset(p);
        const auto len = std::min(posting_length(p), n);
        __m512 acc = _mm512_setzero_ps();
        for (std::uint32_t j = 0; j < len; j += 16) {
            // Lanes past the prefix load as 0: component 0 with value +0, whose product is 0 whatever its weight.
            const auto r = len - j;
            const auto lanes = static_cast<__mmask16>(r >= 16 ? 0xFFFFU : (1U << r) - 1U);
            const __m512i x = _mm512_maskz_loadu_epi32(lanes, e + j);
            __m512i w = _mm512_setzero_si512();  // bfloat16 weights as f32 bits; 0 where no table holds the component
            for (unsigned k = 0; k < N; ++k) {
                __m512i slots;
                const __mmask16 hit = keys.lookup(k, x, slots);
                w = _mm512_mask_slli_epi32(w, hit, _mm512_permutex2var_epi16(weights_lo[k], slots, weights_hi[k]), 16);
            }
            acc = _mm512_fmadd_ps(_mm512_castsi512_ps(w), scaled_half(x), acc);
        }
        out[i] = horizontal_sum(acc);
    }
}

/// The products of 16 entries (lanes past the document: x = 0, product +-0) with the query's exact weights.
template <unsigned N> struct ExactRegisters {
    KeyRegisters<N> keys;
    __m512i high_lo[N], high_hi[N], low_lo[N], low_hi[N];
    AFTERSHOCK_AVX512 explicit ExactRegisters(const ScreeningTable::Tables& t) noexcept : keys(t) {
        for (unsigned k = 0; k < N; ++k) {
            load_field(t.exact_high[k], high_lo[k], high_hi[k]);
            load_field(t.exact_low[k], low_lo[k], low_hi[k]);
        }
    }
    AFTERSHOCK_AVX512 __m512 products(__m512i x) const noexcept {
        const __m512i low_half = _mm512_set1_epi32(0xFFFF);
        __m512i w = _mm512_setzero_si512();  // exact f32 weights; 0 where no table holds the component
        for (unsigned k = 0; k < N; ++k) {
            __m512i slots;
            const __mmask16 hit = keys.lookup(k, x, slots);
            const __m512i high_bits = _mm512_permutex2var_epi16(high_lo[k], slots, high_hi[k]);
            const __m512i high = _mm512_maskz_slli_epi32(0xFFFF, high_bits, 16);
            const __m512i low = _mm512_permutex2var_epi16(low_lo[k], slots, low_hi[k]);
            // high | (low & 0xFFFF) (ternary logic 0xF8: a | (b & c)), in the lanes that hit.
            w = _mm512_mask_mov_epi32(w, hit, _mm512_ternarylogic_epi32(high, low, low_half, 0xF8));
        }
        // Multiplied, not fused: the product is rounded once, then added, as the other kernels do.
        return _mm512_mul_ps(_mm512_castsi512_ps(w), scaled_half(x));
    }
};

AFTERSHOCK_AVX512 inline __m128 quarter(__m512 v, int i) noexcept {
    switch (i) {
    case 1: return _mm512_maskz_extractf32x4_ps(0xF, v, 1);
    case 2: return _mm512_maskz_extractf32x4_ps(0xF, v, 2);
    case 3: return _mm512_maskz_extractf32x4_ps(0xF, v, 3);
    default: return _mm512_maskz_extractf32x4_ps(0xF, v, 0);
    }
}

/// add_terms4's order (dot_kernels.hpp): 16 products are four groups of four into the four sums, in order; of a last
/// partial chunk of r entries, the whole groups first, then the last r % 4 terms into sum 0, one by one.
template <unsigned N>
AFTERSHOCK_AVX512 void add_entries_avx512(const ScreeningTable::Tables& t, const std::uint32_t* e, std::uint32_t len,
                                          DotSums& sums) noexcept {
    const ExactRegisters<N> regs(t);
    __m128 acc = _mm_loadu_ps(sums.s);
    std::uint32_t i = 0;
    for (; i + 16 <= len; i += 16) {
        const __m512 p = regs.products(_mm512_loadu_si512(e + i));
        acc = _mm_add_ps(acc, quarter(p, 0));
        acc = _mm_add_ps(acc, quarter(p, 1));
        acc = _mm_add_ps(acc, quarter(p, 2));
        acc = _mm_add_ps(acc, quarter(p, 3));
    }
    if (i < len) {
        const auto r = len - i;
        const __m512 p = regs.products(_mm512_maskz_loadu_epi32(static_cast<__mmask16>((1U << r) - 1U), e + i));
        // Whole groups (lanes below 4 * (r / 4)); the groups past them add +0, which changes no sum.
        const __m512 whole = _mm512_maskz_mov_ps(static_cast<__mmask16>((1U << (r & ~3U)) - 1U), p);
        acc = _mm_add_ps(acc, quarter(whole, 0));
        acc = _mm_add_ps(acc, quarter(whole, 1));
        acc = _mm_add_ps(acc, quarter(whole, 2));
        acc = _mm_add_ps(acc, quarter(whole, 3));
        // The last r % 4 terms moved to lanes 0-2 (lanes past them +0), added to sum 0 in order.
        const __m512i from = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(r & ~3U)),
                                              _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
        const __m128 rest =
            quarter(_mm512_maskz_permutexvar_ps(static_cast<__mmask16>((1U << (r & 3U)) - 1U), from, p), 0);
        acc = _mm_add_ss(acc, rest);
        acc = _mm_add_ss(acc, _mm_movehdup_ps(rest));
        acc = _mm_add_ss(acc, _mm_movehl_ps(rest, rest));
    }
    _mm_storeu_ps(sums.s, acc);
}
#endif

}  // namespace

bool ScreeningTable::supported() noexcept {
#ifdef AFTERSHOCK_AVX512_SCREENING
    static const bool ok = [] {
        const char* env = std::getenv("AFTERSHOCK_SCREEN_TABLE");
        if (env != nullptr && std::strcmp(env, "0") == 0) return false;
        return __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512bw") != 0;
    }();
    return ok;
#else
    return false;
#endif
}

bool ScreeningTable::build(const SparseView& query, std::uint64_t dim) {
    m_tables = 0;
    if (!supported() || dim > 65536) return false;
    if (!m_t) m_t = std::make_unique<Tables>();
    std::size_t keys = 0;
    for (std::size_t i = 0; i < query.size(); ++i) {
        if (i > 0 && query.indices[i] <= query.indices[i - 1]) return false;
        const float w = query.values[i];
        if (!std::isfinite(w) || std::fabs(w) >= 0x1p15F) return false;
        keys += static_cast<std::size_t>(query.indices[i] < dim);
    }
    // An empty slot holds a component outside the query (weight 0): a document entry that matches it adds nothing.
    std::uint16_t empty = 0;
    for (std::size_t i = 0; i < query.size() && query.indices[i] <= empty; ++i) {
        if (query.indices[i] == empty) ++empty;
    }
    for (const unsigned tables : {2U, 4U}) {
        if (keys * 10 > std::size_t{tables} * kSlots * 9) continue;  // past 90% full, cuckoo placement rarely succeeds
        for (unsigned attempt = 0; attempt < 16; ++attempt) {
            for (unsigned k = 0; k < tables; ++k) m_t->multipliers[k] = multiplier(attempt, k);
            if (place(query, dim, tables, empty)) {
                m_tables = tables;
                return true;
            }
        }
    }
    return false;
}

bool ScreeningTable::place(const SparseView& query, std::uint64_t dim, unsigned tables, std::uint16_t empty) noexcept {
    // Cuckoo insertion of query positions: a free slot in any table, else evict the occupant of one table's slot
    // (tables in turn) and place that one.
    constexpr auto kFree = std::numeric_limits<std::uint32_t>::max();
    std::array<std::array<std::uint32_t, kSlots>, kMaxTables> at{};
    for (auto& table : at) table.fill(kFree);
    for (std::size_t i = 0; i < query.size(); ++i) {
        if (query.indices[i] >= dim) continue;
        auto item = static_cast<std::uint32_t>(i);
        bool placed = false;
        for (unsigned kick = 0; kick < 256 && !placed; ++kick) {
            for (unsigned k = 0; k < tables && !placed; ++k) {
                auto& held = at[k][slot(query.indices[item], m_t->multipliers[k])];
                if (held == kFree) {
                    held = item;
                    placed = true;
                }
            }
            if (!placed) std::swap(item, at[kick % tables][slot(query.indices[item], m_t->multipliers[kick % tables])]);
        }
        if (!placed) return false;
    }
    for (unsigned k = 0; k < tables; ++k) {
        for (unsigned s = 0; s < kSlots; ++s) {
            const auto i = at[k][s];
            const bool held = i != kFree;
            const auto bits = held ? scaled_bits(query.values[i]) : 0U;
            m_t->keys[k][s] = held ? static_cast<std::uint16_t>(query.indices[i]) : empty;
            m_t->weights[k][s] = held ? to_scaled_bf16(query.values[i]) : std::uint16_t{0};
            m_t->exact_high[k][s] = static_cast<std::uint16_t>(bits >> 16);
            m_t->exact_low[k][s] = static_cast<std::uint16_t>(bits & 0xFFFFU);
        }
    }
    return true;
}

float ScreeningTable::dot(const std::uint32_t* packed, PackedPosting p) const noexcept {
    DotSums sums;
#ifdef AFTERSHOCK_AVX512_SCREENING
    const auto* e = packed + posting_offset(p);
    if (m_tables == 2) add_entries_avx512<2>(*m_t, e, posting_length(p), sums);
    else add_entries_avx512<4>(*m_t, e, posting_length(p), sums);
#else
    (void)packed;
    (void)p;
#endif
    return sums.total();
}

float ScreeningTable::weight(std::uint32_t component) const noexcept {
    for (unsigned k = 0; k < m_tables; ++k) {
        const auto s = slot(component, m_t->multipliers[k]);
        if (m_t->keys[k][s] == (component & 0xFFFFU)) {
            return std::bit_cast<float>(std::uint32_t{m_t->weights[k][s]} << 16) / kHalfScale;
        }
    }
    return 0.0F;
}

void ScreeningTable::score_prefixes(const std::uint32_t* packed, std::span<const PackedPosting> postings,
                                    std::uint32_t n, float* out) const noexcept {
#ifdef AFTERSHOCK_AVX512_SCREENING
    if (m_tables == 2) score_prefixes_avx512<2>(*m_t, packed, postings, n, out);
    else score_prefixes_avx512<4>(*m_t, packed, postings, n, out);
#else
    (void)packed;
    (void)postings;
    (void)n;
    (void)out;
#endif
}

}  // namespace aftershock::seismic
