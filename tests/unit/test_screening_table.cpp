// The screening table (query weights in registers, cuckoo-hashed): it holds every query component with its weight
// rounded to bfloat16 and nothing else; its AVX-512 kernel scores document prefixes as the scalar model does; and it
// refuses the queries it cannot hold, so that search falls back to exact prefix scores.
#include "aftershock/common/seismic/screening_table.hpp"

#include "aftershock/common/error.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace aftershock::seismic {
namespace {

struct Query {
    std::vector<std::uint32_t> indices;
    std::vector<float> values;
    [[nodiscard]] SparseView view() const { return {indices, values}; }
};

/// `n` distinct ascending components below `dim`, weights in (0, 4).
Query random_query(std::size_t n, std::uint32_t dim, std::mt19937& rng) {
    std::uniform_int_distribution<std::uint32_t> comp(0, dim - 1);
    std::uniform_real_distribution<float> w(0.001F, 4.0F);
    Query q;
    while (q.indices.size() < n) {
        const auto c = comp(rng);
        if (std::find(q.indices.begin(), q.indices.end(), c) == q.indices.end()) q.indices.push_back(c);
    }
    std::sort(q.indices.begin(), q.indices.end());
    for (std::size_t i = 0; i < n; ++i) q.values.push_back(w(rng));
    return q;
}

/// The bfloat16 rounding (to nearest) of w: what the table must hold, within half a unit in the 8th bit.
bool within_bf16(float got, float want) { return std::fabs(got - want) <= std::fabs(want) * 0x1p-8F; }

TEST(ScreeningTable, HoldsEveryQueryComponentWithItsWeightAndNothingElse) {
    if (!ScreeningTable::supported()) GTEST_SKIP() << "no AVX-512 F+BW on this CPU";
    std::mt19937 rng(11);
    std::size_t four_tables = 0;
    for (const std::uint32_t dim : {300U, 30522U, 65536U}) {
        for (const std::size_t n : {std::size_t{1}, std::size_t{5}, std::size_t{44}, std::size_t{64}, std::size_t{109},
                                    std::size_t{200}}) {
            if (n > dim) continue;
            const auto q = random_query(n, dim, rng);
            ScreeningTable t;
            ASSERT_TRUE(t.build(q.view(), dim)) << "dim " << dim << ", " << n << " components";
            four_tables += static_cast<std::size_t>(t.tables() == 4);
            std::vector<float> dense(dim, 0.0F);
            for (std::size_t i = 0; i < n; ++i) dense[q.indices[i]] = q.values[i];
            for (std::uint32_t c = 0; c < dim; ++c) {
                if (dense[c] == 0.0F) {
                    ASSERT_EQ(t.weight(c), 0.0F) << "component " << c << " is not in the query";
                } else {
                    ASSERT_TRUE(within_bf16(t.weight(c), dense[c])) << c << ": " << t.weight(c) << " for " << dense[c];
                }
            }
        }
    }
    EXPECT_GT(four_tables, 0U) << "200 components take four tables";
}

TEST(ScreeningTable, KernelScoresPrefixesAsTheScalarModel) {
    if (!ScreeningTable::supported()) GTEST_SKIP() << "no AVX-512 F+BW on this CPU";
    std::mt19937 rng(5);
    constexpr std::uint32_t kDim = 2000;
    std::uniform_int_distribution<std::uint32_t> comp(0, kDim - 1);
    std::uniform_real_distribution<float> mag(-4.0F, 4.0F);
    for (const std::size_t query_size : {std::size_t{3}, std::size_t{60}, std::size_t{180}}) {
        auto q = random_query(query_size, kDim, rng);
        if (q.indices.front() != 0) {  // component 0: what a masked-off lane reads
            q.indices.insert(q.indices.begin(), 0);
            q.values.insert(q.values.begin(), 2.5F);
        }
        ScreeningTable t;
        ASSERT_TRUE(t.build(q.view(), kDim));
        // Documents of every length up to 80 back to back, each half from the query's components, values of both signs
        // and subnormal halves too.
        std::vector<std::uint32_t> packed;
        std::vector<PackedPosting> postings;
        for (std::uint32_t len = 0; len <= 80; ++len) {
            postings.push_back(pack_posting(packed.size(), len));
            for (std::uint32_t i = 0; i < len; ++i) {
                const auto c = rng() % 2 == 0 ? q.indices[rng() % q.indices.size()] : comp(rng);
                const float v = std::ldexp(mag(rng), static_cast<int>(rng() % 24) - 18);
                packed.push_back(c | (std::uint32_t{f32_to_f16(v)} << 16));
            }
        }
        std::vector<float> out(postings.size());
        for (const std::uint32_t n : {0U, 1U, 15U, 16U, 17U, 33U, 48U, 64U, 1000U}) {
            t.score_prefixes(packed.data(), postings, n, out.data());
            for (std::size_t d = 0; d < postings.size(); ++d) {
                const auto off = posting_offset(postings[d]);
                const auto len = std::min(posting_length(postings[d]), n);
                double want = 0.0;
                double scale = 0.0;
                for (std::uint32_t i = 0; i < len; ++i) {
                    const auto e = packed[off + i];
                    const double term = double{t.weight(e & 0xFFFFU)} * f16_to_f32(static_cast<std::uint16_t>(e >> 16));
                    want += term;
                    scale += std::fabs(term);
                }
                ASSERT_NEAR(out[d], want, scale * 1e-6 + 1e-30) << "query of " << query_size << ", prefix " << n
                                                                << ", document of " << posting_length(postings[d]);
            }
        }
    }
}

TEST(ScreeningTable, ExactDotMatchesTheScalarKernelBitForBit) {
    if (!ScreeningTable::supported()) GTEST_SKIP() << "no AVX-512 F+BW on this CPU";
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> mag(-4.0F, 4.0F);
    for (const std::uint32_t dim : {300U, 65536U}) {
        std::uniform_int_distribution<std::uint32_t> comp(0, dim - 1);
        for (const std::size_t query_size : {std::size_t{1}, std::size_t{44}, std::size_t{150}}) {
            auto q = random_query(query_size, dim, rng);
            for (std::size_t i = 0; i < q.values.size(); i += 3) q.values[i] = -std::ldexp(q.values[i], -20);  // sign, scale
            ScreeningTable t;
            ASSERT_TRUE(t.build(q.view(), dim));
            std::vector<float> dense(dim, 0.0F);
            for (std::size_t i = 0; i < q.indices.size(); ++i) dense[q.indices[i]] = q.values[i];
            for (std::uint32_t len = 0; len <= 300; len += (len < 70 ? 1 : 23)) {
                for (int rep = 0; rep < 4; ++rep) {
                    std::vector<std::uint32_t> packed;
                    for (std::uint32_t i = 0; i < len; ++i) {
                        const auto c = rng() % 2 == 0 ? q.indices[rng() % q.indices.size()] : comp(rng);
                        const float v = std::ldexp(mag(rng), static_cast<int>(rng() % 30) - 24);  // subnormal halves too
                        packed.push_back(c | (std::uint32_t{f32_to_f16(v)} << 16));
                    }
                    const float want = dot_packed_scalar(packed.data(), len, dense.data());
                    ASSERT_EQ(std::bit_cast<std::uint32_t>(t.dot(packed.data(), pack_posting(0, len))),
                              std::bit_cast<std::uint32_t>(want))
                        << "dim " << dim << ", query of " << query_size << ", document of " << len;
                }
            }
        }
    }
}

TEST(ScreeningTable, RefusesQueriesItCannotHold) {
    if (!ScreeningTable::supported()) GTEST_SKIP() << "no AVX-512 F+BW on this CPU";
    ScreeningTable t;
    const std::vector<std::uint32_t> ascending{1, 7, 9};
    const std::vector<float> ok{1.0F, 2.0F, 3.0F};
    ASSERT_TRUE(t.build({ascending, ok}, 100));
    EXPECT_FALSE(t.build({ascending, ok}, 65537)) << "wide vocabulary";
    EXPECT_FALSE(t.usable()) << "a refused build leaves the table unusable";
    const std::vector<std::uint32_t> unordered{7, 1, 9};
    EXPECT_FALSE(t.build({unordered, ok}, 100));
    const std::vector<std::uint32_t> repeated{1, 7, 7};
    EXPECT_FALSE(t.build({repeated, ok}, 100));
    for (const float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(), 0x1p15F}) {
        const std::vector<float> values{1.0F, bad, 3.0F};
        EXPECT_FALSE(t.build({ascending, values}, 100)) << bad;
    }
    // Components past the vocabulary are left out, as the dense query leaves them out.
    const std::vector<std::uint32_t> past{1, 7, 150};
    ASSERT_TRUE(t.build({past, ok}, 100));
    EXPECT_EQ(t.weight(150), 0.0F);
    EXPECT_EQ(t.weight(7), 2.0F);
    // More components than four tables of 64 slots hold.
    std::mt19937 rng(2);
    const auto big = random_query(240, 30000, rng);
    EXPECT_FALSE(t.build(big.view(), 30000));
    const std::vector<std::uint32_t> none;
    const std::vector<float> no_values;
    ASSERT_TRUE(t.build({none, no_values}, 100)) << "an empty query";
    EXPECT_EQ(t.weight(0), 0.0F);
}

TEST(ScreeningTable, ForwardIndexTellsWhetherEveryHalfIsFinite) {
    // An infinite half would be read as a finite number by the table's integer conversion: search builds no table
    // for an index that holds one. Only a file can bring one in (a build refuses weights past 65,504).
    CsrMatrix docs;
    docs.dim = 50;
    docs.append_row(std::vector<std::uint32_t>{1, 2}, std::vector<float>{3.0F, 1.0F});
    docs.append_row(std::vector<std::uint32_t>{1, 3}, std::vector<float>{2.0F, 1.0F});
    const ForwardIndex f(docs);
    EXPECT_TRUE(f.finite_values());
    auto packed = f.packed();
    packed[0] = (packed[0] & 0xFFFFU) | (std::uint32_t{0x7C00U} << 16);  // +inf
    const ForwardIndex reloaded(f.dim(), f.offsets(), packed, {}, {});
    EXPECT_FALSE(reloaded.finite_values()) << "checked on load";
    EXPECT_TRUE(ForwardIndex(f.dim(), f.offsets(), f.packed(), {}, {}).finite_values());
}

TEST(ScreeningTable, BuildRefusesWeightsPastTheLargestHalf) {
    // 65,504 is the largest finite half; 65,519 still rounds down to it, 65,520 rounds to infinity.
    for (const std::uint64_t dim : {50ULL, 70000ULL}) {  // narrow (u16 components) and wide layouts
        CsrMatrix docs;
        docs.dim = dim;
        docs.append_row(std::vector<std::uint32_t>{1, 2}, std::vector<float>{65504.0F, 65519.0F});
        docs.append_row(std::vector<std::uint32_t>{1, 3}, std::vector<float>{2.0F, 65520.0F});
        try {
            const ForwardIndex f(docs);
            ADD_FAILURE() << "a weight of 65,520 was accepted (dim " << dim << ")";
        } catch (const InputError& e) {
            EXPECT_THAT(e.what(), ::testing::HasSubstr("document 1, component 3: weight 65520"));
            EXPECT_THAT(e.what(), ::testing::HasSubstr("no finite f16"));
        }
        for (const float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
            docs.data[3] = bad;
            EXPECT_THROW(ForwardIndex{docs}, InputError) << bad << " (dim " << dim << ")";
        }
        docs.data[3] = 65519.0F;
        EXPECT_TRUE(ForwardIndex(docs).finite_values()) << dim;
    }
}

}  // namespace
}  // namespace aftershock::seismic
