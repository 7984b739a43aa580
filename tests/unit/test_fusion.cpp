// Fusion of global candidate lists: hand-computed RRF and linear cases, absent documents, empty routes, and
// the identity property that makes single-route requests a special case of the same function.
#include "aftershock/common/error.hpp"
#include "aftershock/common/fusion.hpp"

#include <gtest/gtest.h>

#include <random>

namespace aftershock {
namespace {

using Hits = std::vector<GlobalHit>;

TEST(Fusion, RrfHandComputed) {
    const Hits sparse{{1, 9.0F}, {2, 8.0F}, {3, 7.0F}};
    const Hits dense{{3, 0.9F}, {4, 0.8F}};
    const std::vector<FusionRoute> routes{{sparse, 1.0}, {dense, 1.0}};
    const FusionParams p{FusionMethod::rrf, 60.0, Normalization::none};
    const auto out = fuse(routes, p, 10);
    // doc 3: 1/63 + 1/61; doc 1: 1/61; doc 4: 1/62; doc 2: 1/62 (tie with 4 -> lower id first).
    ASSERT_EQ(out.size(), 4U);
    EXPECT_EQ(out[0].doc, 3U);
    EXPECT_FLOAT_EQ(out[0].score, static_cast<float>(1.0 / 63 + 1.0 / 61));
    EXPECT_EQ(out[1].doc, 1U);
    EXPECT_FLOAT_EQ(out[1].score, static_cast<float>(1.0 / 61));
    EXPECT_EQ(out[2].doc, 2U);
    EXPECT_EQ(out[3].doc, 4U);
    EXPECT_EQ(out[2].score, out[3].score);
}

TEST(Fusion, RrfWeightsAndRankConstant) {
    const Hits a{{7, 1.0F}};
    const Hits b{{8, 1.0F}};
    const std::vector<FusionRoute> routes{{a, 1.0}, {b, 3.0}};
    const auto out = fuse(routes, {FusionMethod::rrf, 0.0, Normalization::none}, 2);
    ASSERT_EQ(out.size(), 2U);
    EXPECT_EQ(out[0].doc, 8U);
    EXPECT_FLOAT_EQ(out[0].score, 3.0F);
    EXPECT_FLOAT_EQ(out[1].score, 1.0F);
}

TEST(Fusion, LinearMinmaxWithAbsentDocuments) {
    const Hits sparse{{1, 10.0F}, {2, 6.0F}, {3, 2.0F}};   // minmax -> 1, 0.5, 0
    const Hits dense{{2, 0.5F}, {4, 0.3F}, {5, 0.1F}};     // minmax -> 1, 0.5, 0
    const std::vector<FusionRoute> routes{{sparse, 0.6}, {dense, 0.4}};
    const auto out = fuse(routes, {FusionMethod::linear, 60.0, Normalization::minmax}, 10);
    // doc2: .6*.5+.4*1 = .7; doc1: .6*1 + .4*0 (absent -> route min 0) = .6; doc4: 0+.4*.5=.2; doc3: 0; doc5: 0.
    ASSERT_EQ(out.size(), 5U);
    EXPECT_EQ(out[0].doc, 2U);
    EXPECT_FLOAT_EQ(out[0].score, 0.7F);
    EXPECT_EQ(out[1].doc, 1U);
    EXPECT_FLOAT_EQ(out[1].score, 0.6F);
    EXPECT_EQ(out[2].doc, 4U);
    EXPECT_FLOAT_EQ(out[2].score, 0.2F);
    EXPECT_EQ(out[3].doc, 3U);
    EXPECT_EQ(out[4].doc, 5U);
    EXPECT_FLOAT_EQ(out[4].score, 0.0F);
}

TEST(Fusion, LinearZscoreHandComputed) {
    const Hits a{{1, 3.0F}, {2, 1.0F}};  // mean 2, sd 1 -> +1, -1
    const Hits b{{2, 5.0F}, {3, 5.0F}};  // sd 0 -> 0
    const std::vector<FusionRoute> routes{{a, 1.0}, {b, 1.0}};
    const auto out = fuse(routes, {FusionMethod::linear, 60.0, Normalization::zscore}, 3);
    ASSERT_EQ(out.size(), 3U);
    EXPECT_EQ(out[0].doc, 1U);  // +1 + absent(0)
    EXPECT_FLOAT_EQ(out[0].score, 1.0F);
    EXPECT_EQ(out[1].doc, 2U);  // -1 + 0
    EXPECT_FLOAT_EQ(out[1].score, -1.0F);
    EXPECT_EQ(out[2].doc, 3U);  // absent in a -> a's lowest (-1) + 0
    EXPECT_FLOAT_EQ(out[2].score, -1.0F);
}

TEST(Fusion, MinmaxOfEqualScoresIsOne) {
    const Hits a{{4, 2.0F}, {5, 2.0F}};
    const std::vector<FusionRoute> routes{{a, 0.5}};
    const auto out = fuse(routes, {FusionMethod::linear, 60.0, Normalization::minmax}, 5);
    ASSERT_EQ(out.size(), 2U);
    EXPECT_FLOAT_EQ(out[0].score, 0.5F);
    EXPECT_EQ(out[0].doc, 4U);
}

TEST(Fusion, EmptyRoutesAndSmallK) {
    const Hits none;
    const Hits dense{{9, 0.2F}, {3, 0.1F}};
    const std::vector<FusionRoute> routes{{none, 1.0}, {dense, 1.0}};
    for (auto method : {FusionMethod::rrf, FusionMethod::linear}) {
        const auto out = fuse(routes, {method, 60.0, Normalization::minmax}, 10);
        ASSERT_EQ(out.size(), 2U) << "one route returning nothing";
        EXPECT_EQ(out[0].doc, 9U);
        EXPECT_EQ(out[1].doc, 3U);
        EXPECT_TRUE(fuse(routes, {method, 60.0, Normalization::none}, 0).empty());
        EXPECT_EQ(fuse(routes, {method, 60.0, Normalization::none}, 1).size(), 1U);
    }
    const std::vector<FusionRoute> nothing{{none, 1.0}, {none, 1.0}};
    EXPECT_TRUE(fuse(nothing, {}, 10).empty());
    EXPECT_TRUE(fuse(std::vector<FusionRoute>{}, {}, 10).empty());
}

TEST(Fusion, SingleRouteLinearNoneIsTheIdentity) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> score(-5.0F, 5.0F);
    Hits list;
    for (std::uint64_t d = 0; d < 200; ++d) list.push_back({d * 7 % 211, score(rng)});
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return ranks_before(a, b); });
    list.erase(std::unique(list.begin(), list.end(), [](auto a, auto b) { return a.doc == b.doc; }), list.end());
    const std::vector<FusionRoute> routes{{list, 1.0}};
    EXPECT_EQ(fuse(routes, {FusionMethod::linear, 60.0, Normalization::none}, 50),
              Hits(list.begin(), list.begin() + 50));
}

TEST(Fusion, RejectsBadParameters) {
    const Hits a{{1, 1.0F}};
    const std::vector<FusionRoute> routes{{a, 1.0}};
    EXPECT_THROW((void)fuse(routes, {FusionMethod::rrf, -1.0, Normalization::none}, 1), UsageError);
    const std::vector<FusionRoute> bad{{a, std::nan("")}};
    EXPECT_THROW((void)fuse(bad, {}, 1), UsageError);
    EXPECT_THROW((void)parse_fusion_method("borda"), UsageError);
    EXPECT_THROW((void)parse_normalization("l2"), UsageError);
    EXPECT_EQ(parse_normalization("zscore"), Normalization::zscore);
}

// Fusing the merged lists of any sharding gives the same answer as fusing the single-index lists.
TEST(Fusion, ShardingDoesNotChangeTheFusedAnswer) {
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> score(0.0F, 1.0F);
    Hits sparse_all;
    Hits dense_all;
    for (std::uint64_t d = 0; d < 500; ++d) {
        sparse_all.push_back({d, score(rng)});
        dense_all.push_back({d, score(rng)});
    }
    const auto top = [](Hits h, std::size_t k) {
        std::sort(h.begin(), h.end(), [](const auto& a, const auto& b) { return ranks_before(a, b); });
        h.resize(std::min(k, h.size()));
        return h;
    };
    const std::size_t depth = 40;
    const auto s1 = top(sparse_all, depth);
    const auto d1 = top(dense_all, depth);
    for (const auto& p : {FusionParams{FusionMethod::rrf, 60.0, Normalization::none},
                          FusionParams{FusionMethod::linear, 60.0, Normalization::zscore}}) {
        const auto single = fuse(std::vector<FusionRoute>{{s1, 0.3}, {d1, 0.7}}, p, 10);
        for (std::uint64_t shards : {2U, 5U}) {
            std::vector<Hits> sp(shards);
            std::vector<Hits> dp(shards);
            for (const auto& h : sparse_all) sp[h.doc % shards].push_back(h);
            for (const auto& h : dense_all) dp[h.doc % shards].push_back(h);
            for (auto& l : sp) l = top(l, depth);
            for (auto& l : dp) l = top(l, depth);
            const auto sm = merge_topk(sp, depth);
            const auto dm = merge_topk(dp, depth);
            EXPECT_EQ(fuse(std::vector<FusionRoute>{{sm, 0.3}, {dm, 0.7}}, p, 10), single) << shards;
        }
    }
}

}  // namespace
}  // namespace aftershock
