#include "aftershock/common/topk.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace aftershock {
namespace {

TEST(TopK, KeepsBestWithLowerIndexWinningTies) {
    TopK top(3);
    top.push(1.0F, 5);
    top.push(2.0F, 9);
    top.push(1.0F, 2);
    top.push(1.0F, 7);  // tie with the worst kept (1.0, 5): lower index 5 stays, 7 does not enter
    top.push(0.5F, 0);
    const auto hits = top.take_sorted();
    ASSERT_EQ(hits.size(), 3U);
    EXPECT_EQ(hits[0], (Hit{9, 2.0F}));
    EXPECT_EQ(hits[1], (Hit{2, 1.0F}));
    EXPECT_EQ(hits[2], (Hit{5, 1.0F}));
}

TEST(TopK, ZeroKAndFewerThanK) {
    TopK none(0);
    none.push(1.0F, 1);
    EXPECT_TRUE(none.take_sorted().empty());
    TopK top(10);
    top.push(3.0F, 1);
    EXPECT_FALSE(top.full());
    EXPECT_EQ(top.threshold(), -std::numeric_limits<float>::infinity());
    EXPECT_EQ(top.take_sorted().size(), 1U);
}

TEST(TopK, MatchesFullSortOnRandomInput) {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> score(0, 50);  // many ties on purpose
    for (int trial = 0; trial < 50; ++trial) {
        std::vector<Hit> all;
        TopK top(10);
        for (DocIndex d = 0; d < 500; ++d) {
            const Hit h{d, static_cast<float>(score(rng))};
            all.push_back(h);
        }
        std::shuffle(all.begin(), all.end(), rng);
        for (const auto& h : all) top.push(h.score, h.doc);
        std::sort(all.begin(), all.end(), [](const Hit& a, const Hit& b) { return ranks_before(a, b); });
        all.resize(10);
        EXPECT_EQ(top.take_sorted(), all);
    }
}

}  // namespace
}  // namespace aftershock
