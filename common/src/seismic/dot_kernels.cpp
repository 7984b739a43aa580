#include "aftershock/common/seismic/dot_kernels.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define AFTERSHOCK_AVX2_KERNELS 1
#endif

namespace aftershock::seismic {
namespace {

float packed_scalar(const std::uint32_t* e, std::uint32_t len, const float* q) noexcept {
    return dot_packed_scalar(e, len, q);
}
float wide_scalar(const std::uint32_t* c, const std::uint16_t* v, std::uint32_t len, const float* q) noexcept {
    return dot_wide_scalar(c, v, len, q);
}
void packed_sums_scalar(const std::uint32_t* e, std::uint32_t len, const float* q, DotSums& sums) noexcept {
    sum_packed_scalar(e, len, q, sums);
}
void wide_sums_scalar(const std::uint32_t* c, const std::uint16_t* v, std::uint32_t len, const float* q,
                      DotSums& sums) noexcept {
    sum_wide_scalar(c, v, len, q, sums);
}
constexpr DotKernels kScalar{&packed_scalar, &wide_scalar, &packed_sums_scalar, &wide_sums_scalar, "scalar"};

#ifdef AFTERSHOCK_AVX2_KERNELS
// The target list leaves out "fma" on purpose: without it GCC cannot fuse a multiply and an add, which
// would change the last bits of a score against the scalar reference.
#define AFTERSHOCK_AVX2 [[gnu::target("avx2,f16c")]]

// Eight products go to the four running sums as two steps of four, low half first: sum j receives terms
// j, j+4, j+8, ... in order, exactly as add_terms4 adds them.
AFTERSHOCK_AVX2 inline __m128 add8(__m128 acc, __m256 prod) noexcept {
    acc = _mm_add_ps(acc, _mm256_castps256_ps128(prod));
    return _mm_add_ps(acc, _mm256_extractf128_ps(prod, 1));
}

// add_terms4's tail (the last len % 4 terms into sum 0, in order), after the vector sums are stored back.
template <typename Term>
AFTERSHOCK_AVX2 inline void finish(__m128 acc, std::uint32_t i, std::uint32_t len, Term&& term, DotSums& sums) noexcept {
    _mm_storeu_ps(sums.s, acc);
    for (; i < len; ++i) sums.s[0] += term(i);
}

// Bytes 2,3 of each u32 (the f16 value) to the low 8 bytes of each 128-bit half.
AFTERSHOCK_AVX2 inline __m256i f16_halves() noexcept {
    return _mm256_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1,  //
                            2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1);
}

// The query weights of eight (four) entries, component i at q[comp(i)]: by gather instructions, or by scalar loads
// into a vector. On this project's AMD EPYC (CPU family 26, Zen 5) the loads are faster: a search spends 15-18% less
// time with them (docs/BENCHMARKS.md, sessions 11 and 16); gathers stay selectable (AFTERSHOCK_SIMD=gather) for CPUs
// where they win.
// Mask is 0xFFFF for packed entries (component in the low half) and ~0 for wide components.
template <std::uint32_t Mask> struct GatherWeights {
    AFTERSHOCK_AVX2 static __m256 eight(const float* q, const std::uint32_t* e) noexcept {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(e));
        return _mm256_i32gather_ps(q, _mm256_and_si256(x, _mm256_set1_epi32(static_cast<int>(Mask))), 4);
    }
    AFTERSHOCK_AVX2 static __m128 four(const float* q, const std::uint32_t* e) noexcept {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(e));
        return _mm_i32gather_ps(q, _mm_and_si128(x, _mm_set1_epi32(static_cast<int>(Mask))), 4);
    }
};
template <std::uint32_t Mask> struct LoadWeights {
    AFTERSHOCK_AVX2 static __m256 eight(const float* q, const std::uint32_t* e) noexcept {
        return _mm256_setr_ps(q[e[0] & Mask], q[e[1] & Mask], q[e[2] & Mask], q[e[3] & Mask], q[e[4] & Mask],
                              q[e[5] & Mask], q[e[6] & Mask], q[e[7] & Mask]);
    }
    AFTERSHOCK_AVX2 static __m128 four(const float* q, const std::uint32_t* e) noexcept {
        return _mm_setr_ps(q[e[0] & Mask], q[e[1] & Mask], q[e[2] & Mask], q[e[3] & Mask]);
    }
};

// The last r < 8 entries without a branch on r (a document's length is as good as random, so branches on it miss):
// lanes past the end load as 0 (component 0, value +0), whose products are +-0, and adding +-0 changes no sum (a sum
// is never -0: it starts at +0, and +0 + -0 = +0). So the sums get add_terms4's exact sequence: a group of four when
// r >= 4, then the last r % 4 terms into sum 0, in order.
template <template <std::uint32_t> class Weights>
AFTERSHOCK_AVX2 inline __m128 packed_tail(const std::uint32_t* e, std::uint32_t r, const float* q, __m128 acc,
                                          __m256i halves) noexcept {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i x = _mm256_maskload_epi32(reinterpret_cast<const int*>(e),
                                            _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)), lanes));
    alignas(32) std::uint32_t entries[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(entries), x);
    const __m256 qv = Weights<0xFFFFU>::eight(q, entries);
    const __m256i h = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(x, halves), 0b1000);
    const __m256 p = _mm256_mul_ps(qv, _mm256_cvtph_ps(_mm256_castsi256_si128(h)));
    const __m128 group = _mm_castsi128_ps(_mm_set1_epi32(-static_cast<int>(r >> 2)));  // all ones when r >= 4
    acc = _mm_add_ps(acc, _mm_and_ps(_mm256_castps256_ps128(p), group));
    const __m128 rest = _mm256_castps256_ps128(
        _mm256_permutevar8x32_ps(p, _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(r & 4U)), lanes)));
    acc = _mm_add_ss(acc, rest);
    acc = _mm_add_ss(acc, _mm_movehdup_ps(rest));
    return _mm_add_ss(acc, _mm_movehl_ps(rest, rest));
}

template <template <std::uint32_t> class Weights>
AFTERSHOCK_AVX2 void packed_sums_avx2(const std::uint32_t* e, std::uint32_t len, const float* q, DotSums& sums) noexcept {
    using W = Weights<0xFFFFU>;
    const __m256i halves = f16_halves();
    __m128 acc = _mm_loadu_ps(sums.s);
    std::uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(e + i));
        const __m256 qv = W::eight(q, e + i);
        const __m256i h = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(x, halves), 0b1000);
        acc = add8(acc, _mm256_mul_ps(qv, _mm256_cvtph_ps(_mm256_castsi256_si128(h))));
    }
    if (i < len) acc = packed_tail<Weights>(e + i, len - i, q, acc, halves);
    _mm_storeu_ps(sums.s, acc);
}

template <template <std::uint32_t> class Weights>
AFTERSHOCK_AVX2 void wide_sums_avx2(const std::uint32_t* c, const std::uint16_t* v, std::uint32_t len, const float* q,
                                    DotSums& sums) noexcept {
    using W = Weights<~0U>;
    __m128 acc = _mm_loadu_ps(sums.s);
    std::uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        const __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
        acc = add8(acc, _mm256_mul_ps(W::eight(q, c + i), vv));
    }
    if (i + 4 <= len) {
        const __m128 vv = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(v + i)));
        acc = _mm_add_ps(acc, _mm_mul_ps(W::four(q, c + i), vv));
        i += 4;
    }
    finish(acc, i, len, [&](std::uint32_t j) { return q[c[j]] * f16_to_f32(v[j]); }, sums);
}

template <template <std::uint32_t> class Weights>
AFTERSHOCK_AVX2 float packed_avx2(const std::uint32_t* e, std::uint32_t len, const float* q) noexcept {
    DotSums sums;
    packed_sums_avx2<Weights>(e, len, q, sums);
    return sums.total();
}
template <template <std::uint32_t> class Weights>
AFTERSHOCK_AVX2 float wide_avx2(const std::uint32_t* c, const std::uint16_t* v, std::uint32_t len, const float* q) noexcept {
    DotSums sums;
    wide_sums_avx2<Weights>(c, v, len, q, sums);
    return sums.total();
}

constexpr DotKernels kAvx2{&packed_avx2<LoadWeights>, &wide_avx2<LoadWeights>, &packed_sums_avx2<LoadWeights>,
                           &wide_sums_avx2<LoadWeights>, "avx2+f16c"};
constexpr DotKernels kAvx2Gather{&packed_avx2<GatherWeights>, &wide_avx2<GatherWeights>, &packed_sums_avx2<GatherWeights>,
                                 &wide_sums_avx2<GatherWeights>, "avx2+f16c, gathers"};

// F16C from CPUID directly: clang 14's __builtin_cpu_supports does not know "f16c". AVX2 through the builtin,
// which also checks that the OS saves the AVX registers.
bool cpu_has_avx2_f16c() noexcept {
    unsigned a = 0;
    unsigned b = 0;
    unsigned c = 0;
    unsigned d = 0;
    return __builtin_cpu_supports("avx2") && __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
}
#endif

}  // namespace

const DotKernels& scalar_kernels() noexcept { return kScalar; }

const DotKernels* avx2_kernels() noexcept {
#ifdef AFTERSHOCK_AVX2_KERNELS
    static const bool ok = cpu_has_avx2_f16c();
    if (ok) return &kAvx2;
#endif
    return nullptr;
}

const DotKernels* avx2_gather_kernels() noexcept {
#ifdef AFTERSHOCK_AVX2_KERNELS
    if (avx2_kernels() != nullptr) return &kAvx2Gather;
#endif
    return nullptr;
}

const DotKernels& active_kernels() noexcept {
    static const DotKernels& chosen = [&]() -> const DotKernels& {
        const char* env = std::getenv("AFTERSHOCK_SIMD");
        const auto* simd = env != nullptr && std::strcmp(env, "gather") == 0 ? avx2_gather_kernels() : avx2_kernels();
        const auto& k = (simd != nullptr && (env == nullptr || std::strcmp(env, "0") != 0)) ? *simd : kScalar;
        spdlog::debug("forward index scoring kernels: {}", k.name);
        return k;
    }();
    return chosen;
}

}  // namespace aftershock::seismic
