// The exact k-way merge: hand-computed cases and the property that merging shards' top-k lists gives the
// single-index top-k exactly.
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/merge.hpp"

#include <gtest/gtest.h>

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
            std::vector<GlobalHit> want;
            for (const auto& h : single[q]) want.push_back({h.doc, h.score});
            EXPECT_EQ(merge_topk(lists, 10), want) << n_shards << " shards, query " << q;
        }
    }
}

}  // namespace
}  // namespace aftershock
