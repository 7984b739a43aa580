#pragma once
// Exact k-way merge of per-shard top-k lists: a pure function, so the coordinator, the local search and the
// tests share one definition of "the global top-k".
#include "aftershock/common/types.hpp"

#include <span>
#include <vector>

namespace aftershock {

/// A hit whose doc is a global document index (shard doc_begin + local index).
struct GlobalHit {
    std::uint64_t doc = 0;
    float score = 0.0F;
    friend bool operator==(const GlobalHit&, const GlobalHit&) = default;
};
[[nodiscard]] constexpr bool ranks_before(const GlobalHit& a, const GlobalHit& b) noexcept {
    return a.score > b.score || (a.score == b.score && a.doc < b.doc);
}

/// Per-query hits of a search over the whole corpus (one shard, or the exact oracle), whose doc indexes are already
/// global, as GlobalHit lists.
[[nodiscard]] std::vector<std::vector<GlobalHit>> as_global_hits(const std::vector<std::vector<Hit>>& per_query);

/// Merges lists that are each sorted best first into the best k overall (higher score, then lower global
/// doc). The same hit from several lists (replicas) is kept once. If every list holds the exact top-k
/// of its shard, the result is the exact top-k of the union.
[[nodiscard]] std::vector<GlobalHit> merge_topk(std::span<const std::vector<GlobalHit>> lists, std::size_t k);

/// Per-shard k reduction: when documents are spread over `shards` shards independently of the query, how many
/// of the global top-k one shard holds is Binomial(k, 1/shards). Returns the smallest depth d (1 <= d <= k)
/// such that the chance that any shard holds more than d of the top-k is at most `epsilon` (union bound over
/// shards). epsilon <= 0 or one shard: k (no reduction).
[[nodiscard]] std::uint32_t reduced_shard_depth(std::uint32_t k, std::uint32_t shards, double epsilon);

/// Whether a shard that answered with a reduced depth may hide more of the global top-k: its list is full and
/// its last hit still ranks at or above the global k-th (or the merge has fewer than k hits).
[[nodiscard]] bool may_hide_more(std::span<const GlobalHit> shard_list, std::uint32_t shard_depth,
                                 std::span<const GlobalHit> merged, std::size_t k);

}  // namespace aftershock
