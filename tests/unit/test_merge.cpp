// The exact k-way merge: hand-computed cases and the property that merging shards' top-k lists gives the
// single-index top-k exactly.
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/merge.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

namespace aftershock {
namespace {

using Lists = std::vector<std::vector<GlobalHit>>;

TEST(Merge, HandComputedWithTiesAndEmptyLists) {
    const Lists lists{{{4, 3.0F}, {9, 1.0F}}, {}, {{2, 3.0F}, {7, 2.0F}, {8, 1.0F}}};
    EXPECT_EQ(merge_topk(lists, 4), (std::vector<GlobalHit>{{2, 3.0F}, {4, 3.0F}, {7, 2.0F}, {8, 1.0F}}));
    EXPECT_EQ(merge_topk(lists, 100).size(), 5U) << "k larger than all results";
    EXPECT_TRUE(merge_topk(lists, 0).empty());
    EXPECT_TRUE(merge_topk(Lists{}, 10).empty());
    EXPECT_TRUE(merge_topk(Lists{{}, {}}, 10).empty());
}

TEST(Merge, ReplicaDuplicatesAreKeptOnce) {
    const Lists lists{{{5, 2.0F}, {1, 1.0F}}, {{5, 2.0F}, {1, 1.0F}}};
    EXPECT_EQ(merge_topk(lists, 3), (std::vector<GlobalHit>{{5, 2.0F}, {1, 1.0F}}));
}

TEST(Merge, ShardedExactSearchEqualsSingleIndex) {
    std::mt19937 rng(9);
    CsrMatrix docs;
    docs.dim = 100;
    std::uniform_int_distribution<int> term(0, 99);
    std::uniform_int_distribution<int> val(1, 4);  // small integers: many ties across shards
    for (int d = 0; d < 3000; ++d) {
        std::set<std::uint32_t> t;
        while (t.size() < 8) t.insert(static_cast<std::uint32_t>(term(rng)));
        std::vector<std::uint32_t> idx(t.begin(), t.end());
        std::vector<float> v;
        for (std::size_t i = 0; i < idx.size(); ++i) v.push_back(static_cast<float>(val(rng)));
        docs.append_row(idx, v);
    }
    CsrMatrix queries;
    queries.dim = 100;
    for (int q = 0; q < 30; ++q) {
        const std::vector<std::uint32_t> idx{static_cast<std::uint32_t>(q), static_cast<std::uint32_t>(q + 50)};
        queries.append_row(idx, std::vector<float>{1.0F, 2.0F});
    }
    const auto single = SparseExactIndex(docs).search_batch(queries, 10, 1);
    for (std::size_t n_shards : {1U, 2U, 3U, 7U}) {
        std::vector<std::uint64_t> bounds;
        for (std::size_t s = 0; s <= n_shards; ++s) bounds.push_back(3000 * s / n_shards);
        std::vector<std::vector<std::vector<Hit>>> per_shard;
        for (std::size_t s = 0; s < n_shards; ++s) {
            CsrMatrix part;
            part.dim = docs.dim;
            for (auto d = bounds[s]; d < bounds[s + 1]; ++d) {
                const auto r = docs.row(d);
                part.append_row(r.indices, r.values);
            }
            per_shard.push_back(SparseExactIndex(part).search_batch(queries, 10, 1));
        }
        for (std::size_t q = 0; q < queries.n_rows(); ++q) {
            Lists lists(n_shards);
            for (std::size_t s = 0; s < n_shards; ++s) {
                for (const auto& h : per_shard[s][q]) lists[s].push_back({bounds[s] + h.doc, h.score});
            }
            EXPECT_EQ(merge_topk(lists, 10), as_global_hits(single)[q]) << n_shards << " shards, query " << q;
        }
    }
}

TEST(Merge, ReducedShardDepthHandComputed) {
    // Binomial(10, 1/2): P(X > 8) = 11/1024 > 0.005 = epsilon / 2 shards, P(X > 9) = 1/1024 <= 0.005.
    EXPECT_EQ(reduced_shard_depth(10, 2, 0.01), 9U);
    // Binomial(10, 1/4): P(X > 6) = 0.00351 > 0.0025, P(X > 7) = 0.00042 <= 0.0025.
    EXPECT_EQ(reduced_shard_depth(10, 4, 0.01), 7U);
    EXPECT_EQ(reduced_shard_depth(10, 4, 0.0), 10U) << "epsilon 0: no reduction";
    EXPECT_EQ(reduced_shard_depth(10, 1, 0.5), 10U) << "one shard holds everything";
    EXPECT_EQ(reduced_shard_depth(1, 8, 0.1), 1U);
    EXPECT_LT(reduced_shard_depth(100, 16, 0.001), 25U) << "16 shards need far fewer than 100 each";
}

TEST(Merge, ReducedShardDepthHoldsItsBoundBySimulation) {
    // Spread the top-100 over 8 shards at random 20,000 times: a shard holding more than the reduced depth
    // happens in at most epsilon of the trials (plus 4 standard deviations of sampling noise).
    const std::uint32_t k = 100;
    const std::uint32_t shards = 8;
    const double eps = 0.02;
    const auto d = reduced_shard_depth(k, shards, eps);
    std::mt19937 rng(5);
    std::uniform_int_distribution<std::uint32_t> pick(0, shards - 1);
    int over = 0;
    int over_smaller = 0;
    const int trials = 20000;
    for (int t = 0; t < trials; ++t) {
        std::vector<std::uint32_t> count(shards, 0);
        for (std::uint32_t i = 0; i < k; ++i) ++count[pick(rng)];
        const auto most = *std::max_element(count.begin(), count.end());
        over += most > d ? 1 : 0;
        over_smaller += most > d - 1 ? 1 : 0;
    }
    EXPECT_LE(over, trials * eps + 4 * std::sqrt(trials * eps)) << "depth " << d;
    EXPECT_GT(over_smaller, over) << "one less would be exceeded more often";
}

TEST(Merge, RefetchingShardsThatMayHideMoreRestoresTheExactTopK) {
    // Shards answer only their top d; those whose list is full and still reaches the global cut are asked again
    // for k. The final merge equals the merge of full lists, whatever the scores (ties included).
    std::mt19937 rng(11);
    std::uniform_int_distribution<int> score(1, 6);
    for (int round = 0; round < 200; ++round) {
        const std::size_t shards = 2 + static_cast<std::size_t>(round % 5);
        const std::uint32_t k = 10;
        const std::uint32_t d = 1 + static_cast<std::uint32_t>(round % 6);
        Lists full(shards);
        std::uint64_t next_doc = 0;
        for (auto& l : full) {
            const auto n = static_cast<std::size_t>(score(rng)) * 3;
            for (std::size_t i = 0; i < n; ++i) l.push_back({next_doc++, static_cast<float>(score(rng))});
            std::sort(l.begin(), l.end(), [](const GlobalHit& a, const GlobalHit& b) { return ranks_before(a, b); });
            if (l.size() > k) l.resize(k);
        }
        Lists cut(shards);
        for (std::size_t s = 0; s < shards; ++s) cut[s].assign(full[s].begin(), full[s].begin() + std::min<std::size_t>(d, full[s].size()));
        const auto first = merge_topk(cut, k);
        for (std::size_t s = 0; s < shards; ++s) {
            if (may_hide_more(cut[s], d, first, k)) cut[s] = full[s];
        }
        EXPECT_EQ(merge_topk(cut, k), merge_topk(full, k)) << "round " << round;
    }
    const std::vector<GlobalHit> merged{{1, 5.0F}, {2, 4.0F}};
    EXPECT_FALSE(may_hide_more(std::vector<GlobalHit>{{7, 9.0F}}, 2, merged, 2)) << "a short list has shown everything";
    EXPECT_TRUE(may_hide_more(std::vector<GlobalHit>{{1, 5.0F}, {2, 4.0F}}, 2, merged, 2)) << "its last hit is the k-th";
    EXPECT_FALSE(may_hide_more(std::vector<GlobalHit>{{1, 5.0F}, {3, 1.0F}}, 2, merged, 2)) << "its last hit is below the cut";
    EXPECT_TRUE(may_hide_more(std::vector<GlobalHit>{{1, 5.0F}}, 1, merged, 3)) << "fewer than k merged";
}

}  // namespace
}  // namespace aftershock
