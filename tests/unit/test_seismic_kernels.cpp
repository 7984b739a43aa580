// The SIMD scoring kernels of the forward index against the scalar reference: the same bits for every
// length (vector body, 4-wide step, scalar tail), both layouts and every finite f16 value; and whole
// searches that give identical hits and scores with either kernel.
#include "aftershock/common/seismic/dot_kernels.hpp"
#include "aftershock/common/seismic/seismic_index.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <random>
#include <string>

namespace aftershock::seismic {
namespace {

/// Both AVX2 variants (weights loaded one by one, or gathered); empty on a CPU without AVX2+F16C.
std::vector<const DotKernels*> simd_kernels() {
    std::vector<const DotKernels*> out;
    for (const auto* k : {avx2_kernels(), avx2_gather_kernels()}) {
        if (k != nullptr) out.push_back(k);
    }
    return out;
}

/// A document of `len` distinct components below `dim` (ascending) with f16 values of mixed sign and scale.
struct Doc {
    std::vector<std::uint32_t> components;
    std::vector<std::uint16_t> values;
    std::vector<std::uint32_t> packed;
};
Doc random_doc(std::uint32_t len, std::uint32_t dim, std::mt19937& rng) {
    std::uniform_int_distribution<std::uint32_t> comp(0, dim - 1);
    std::uniform_real_distribution<float> mag(-4.0F, 4.0F);
    std::vector<std::uint32_t> c;
    while (c.size() < len) {
        const auto x = comp(rng);
        if (std::find(c.begin(), c.end(), x) == c.end()) c.push_back(x);
    }
    std::sort(c.begin(), c.end());
    Doc d;
    d.components = c;
    for (auto x : c) {
        const float v = std::ldexp(mag(rng), static_cast<int>(rng() % 20) - 14);  // subnormal halves too
        d.values.push_back(f32_to_f16(v));
        d.packed.push_back((x & 0xFFFFU) | (std::uint32_t{d.values.back()} << 16));
    }
    return d;
}

std::vector<float> random_query(std::uint32_t dim, std::mt19937& rng) {
    std::uniform_real_distribution<float> v(-2.0F, 3.0F);
    std::vector<float> q(dim);
    for (auto& x : q) x = (rng() % 3 == 0) ? 0.0F : v(rng);
    return q;
}

TEST(SeismicKernels, SimdMatchesScalarBitForBitOnRandomDocuments) {
    if (simd_kernels().empty()) GTEST_SKIP() << "no AVX2+F16C on this CPU";
    ASSERT_EQ(simd_kernels().size(), 2U);
    for (const auto* simd : simd_kernels()) {
    SCOPED_TRACE(simd->name);
    std::mt19937 rng(3);
    for (std::uint32_t dim : {std::uint32_t{300}, std::uint32_t{65536}, std::uint32_t{1} << 20}) {
        const auto q = random_query(dim, rng);
        for (std::uint32_t len = 0; len <= 300; len += (len < 40 ? 1 : 37)) {
            for (int rep = 0; rep < 20; ++rep) {
                const auto d = random_doc(std::min(len, dim), dim, rng);
                const auto n = static_cast<std::uint32_t>(d.components.size());
                const float want_wide = dot_wide_scalar(d.components.data(), d.values.data(), n, q.data());
                EXPECT_EQ(std::bit_cast<std::uint32_t>(simd->wide(d.components.data(), d.values.data(), n, q.data())),
                          std::bit_cast<std::uint32_t>(want_wide))
                    << "wide, dim " << dim << " len " << n;
                if (dim > 65536) continue;
                const float want = dot_packed_scalar(d.packed.data(), n, q.data());
                EXPECT_EQ(std::bit_cast<std::uint32_t>(simd->packed(d.packed.data(), n, q.data())),
                          std::bit_cast<std::uint32_t>(want))
                    << "packed, dim " << dim << " len " << n;
                EXPECT_EQ(std::bit_cast<std::uint32_t>(scalar_kernels().packed(d.packed.data(), n, q.data())),
                          std::bit_cast<std::uint32_t>(want));
            }
        }
    }
    }
}

// F16C converts in hardware, the scalar path through the table: every finite half, in the vector body
// (8 copies) and in the tail (1 copy), must give the same product.
TEST(SeismicKernels, EveryFiniteHalfConvertsLikeTheTable) {
    if (simd_kernels().empty()) GTEST_SKIP() << "no AVX2+F16C on this CPU";
    for (const auto* simd : simd_kernels()) {
    SCOPED_TRACE(simd->name);
    std::vector<float> q(16, 1.0F);
    std::vector<std::uint32_t> comps{0, 1, 2, 3, 4, 5, 6, 7};
    for (std::uint32_t h = 0; h < 65536; ++h) {
        if ((h & 0x7C00U) == 0x7C00U && (h & 0x3FFU) != 0) continue;  // NaN payloads may differ
        std::vector<std::uint32_t> packed;
        for (std::uint32_t i = 0; i < 8; ++i) packed.push_back(i | (h << 16));
        const std::vector<std::uint16_t> values(8, static_cast<std::uint16_t>(h));
        for (std::uint32_t len : {1U, 4U, 8U}) {
            ASSERT_EQ(std::bit_cast<std::uint32_t>(simd->packed(packed.data(), len, q.data())),
                      std::bit_cast<std::uint32_t>(dot_packed_scalar(packed.data(), len, q.data())))
                << "half " << h << " len " << len;
            ASSERT_EQ(std::bit_cast<std::uint32_t>(simd->wide(comps.data(), values.data(), len, q.data())),
                      std::bit_cast<std::uint32_t>(dot_wide_scalar(comps.data(), values.data(), len, q.data())))
                << "half " << h << " len " << len;
        }
    }
    }
}

// Screening scores a document's prefix, then carries on from its running sums: after any whole number of groups of
// four, the rest added by any kernel gives the whole document's bits. total() after n entries is the n-entry dot.
TEST(SeismicKernels, RunningSumsCarryOnFromAPrefixOfWholeGroupsBitForBit) {
    std::vector<const DotKernels*> kernels{&scalar_kernels()};
    for (const auto* k : simd_kernels()) kernels.push_back(k);
    std::mt19937 rng(23);
    for (std::uint32_t dim : {std::uint32_t{300}, std::uint32_t{1} << 20}) {
        const auto q = random_query(dim, rng);
        for (std::uint32_t len = 0; len <= 140; len += (len < 24 ? 1 : 29)) {
            const auto d = random_doc(std::min(len, dim), dim, rng);
            const auto n = static_cast<std::uint32_t>(d.components.size());
            const auto* c = d.components.data();
            const auto* v = d.values.data();
            const auto* e = d.packed.data();
            const float whole_wide = dot_wide_scalar(c, v, n, q.data());
            const float whole = dim <= 65536 ? dot_packed_scalar(e, n, q.data()) : 0.0F;
            for (const auto* first : kernels) {
                for (const auto* rest : kernels) {
                    for (std::uint32_t prefix = 0; prefix <= n; ++prefix) {
                        SCOPED_TRACE(std::string(first->name) + " then " + rest->name + ", len " + std::to_string(n) +
                                     ", prefix " + std::to_string(prefix));
                        DotSums sums;
                        first->wide_sums(c, v, prefix, q.data(), sums);
                        ASSERT_EQ(std::bit_cast<std::uint32_t>(sums.total()),
                                  std::bit_cast<std::uint32_t>(dot_wide_scalar(c, v, prefix, q.data())));
                        if (prefix % 4 == 0) {
                            rest->wide_sums(c + prefix, v + prefix, n - prefix, q.data(), sums);
                            ASSERT_EQ(std::bit_cast<std::uint32_t>(sums.total()), std::bit_cast<std::uint32_t>(whole_wide));
                        }
                        if (dim > 65536) continue;
                        DotSums packed_sums;
                        first->packed_sums(e, prefix, q.data(), packed_sums);
                        ASSERT_EQ(std::bit_cast<std::uint32_t>(packed_sums.total()),
                                  std::bit_cast<std::uint32_t>(dot_packed_scalar(e, prefix, q.data())));
                        if (prefix % 4 == 0) {
                            rest->packed_sums(e + prefix, n - prefix, q.data(), packed_sums);
                            ASSERT_EQ(std::bit_cast<std::uint32_t>(packed_sums.total()), std::bit_cast<std::uint32_t>(whole));
                        }
                    }
                }
            }
        }
    }
}

CsrMatrix random_corpus(std::size_t n, std::uint32_t dim, std::mt19937& rng) {
    CsrMatrix m;
    m.dim = dim;
    for (std::size_t r = 0; r < n; ++r) {
        const auto d = random_doc(static_cast<std::uint32_t>(rng() % 60), dim, rng);
        std::vector<float> v;
        for (auto h : d.values) v.push_back(std::abs(f16_to_f32(h)) + 1e-3F);
        m.append_row(d.components, v);
    }
    return m;
}

// The forward index's side of it: resume() gives dot() for every prefix length, carrying on where the prefix is
// whole groups of four and starting again where it is not; prefix_sums().total() is dot_prefix().
TEST(SeismicKernels, ForwardIndexResumesAScreenedDocumentWithItsWholeScore) {
    std::mt19937 rng(29);
    for (std::uint32_t dim : {std::uint32_t{2000}, std::uint32_t{200000}}) {  // packed and wide layouts
        const auto docs = random_corpus(200, dim, rng);
        const ForwardIndex f(docs);
        const auto q = random_query(dim, rng);
        for (std::size_t doc = 0; doc < f.n_docs(); ++doc) {
            const auto p = f.posting(doc);
            const auto whole = std::bit_cast<std::uint32_t>(f.dot(q.data(), p));
            for (std::uint32_t prefix = 0; prefix <= f.length(doc) + 2; ++prefix) {
                const auto sums = f.prefix_sums(q.data(), p, prefix);
                ASSERT_EQ(std::bit_cast<std::uint32_t>(sums.total()), std::bit_cast<std::uint32_t>(f.dot_prefix(q.data(), p, prefix)))
                    << "dim " << dim << " doc " << doc << " prefix " << prefix;
                ASSERT_EQ(std::bit_cast<std::uint32_t>(f.resume(q.data(), p, prefix, sums)), whole)
                    << "dim " << dim << " doc " << doc << " prefix " << prefix;
            }
        }
    }
}

void expect_identical(const std::vector<std::vector<Hit>>& a, const std::vector<std::vector<Hit>>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t q = 0; q < a.size(); ++q) {
        ASSERT_EQ(a[q].size(), b[q].size()) << "query " << q;
        for (std::size_t j = 0; j < a[q].size(); ++j) {
            EXPECT_EQ(a[q][j].doc, b[q][j].doc) << "query " << q << " rank " << j;
            EXPECT_EQ(std::bit_cast<std::uint32_t>(a[q][j].score), std::bit_cast<std::uint32_t>(b[q][j].score))
                << "query " << q << " rank " << j;
        }
    }
}

TEST(SeismicKernels, SearchesGiveIdenticalHitsWithEitherKernel) {
    if (simd_kernels().empty()) GTEST_SKIP() << "no AVX2+F16C on this CPU";
    std::mt19937 rng(17);
    for (std::uint32_t dim : {std::uint32_t{2000}, std::uint32_t{200000}}) {  // packed and wide layouts
        const auto docs = random_corpus(3000, dim, rng);
        const auto queries = random_corpus(40, dim, rng);
        BuildParams bp;
        bp.lambda = 200;
        auto index = SeismicIndex::build(docs, bp);
        EXPECT_EQ(index.forward().wide(), dim > 65536);
        SearchParams sp;
        sp.k = 10;
        sp.query_cut = 5;
        sp.heap_factor = 0.8F;
        index.set_kernels(scalar_kernels());
        const auto scalar = index.search_batch(queries, sp, 1);
        for (const auto* simd : simd_kernels()) {
            index.set_kernels(*simd);
            expect_identical(index.search_batch(queries, sp, 1), scalar);
        }
    }
}

}  // namespace
}  // namespace aftershock::seismic
