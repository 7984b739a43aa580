#include "aftershock/common/merge.hpp"

#include <cmath>
#include <queue>

namespace aftershock {

std::vector<GlobalHit> merge_topk(std::span<const std::vector<GlobalHit>> lists, std::size_t k) {
    // Heap of (list, position) cursors ordered by their current hit.
    struct Cursor {
        std::size_t list;
        std::size_t pos;
    };
    const auto worse = [&](const Cursor& a, const Cursor& b) { return ranks_before(lists[b.list][b.pos], lists[a.list][a.pos]); };
    std::priority_queue<Cursor, std::vector<Cursor>, decltype(worse)> heap(worse);
    for (std::size_t l = 0; l < lists.size(); ++l) {
        if (!lists[l].empty()) heap.push({l, 0});
    }
    std::vector<GlobalHit> out;
    out.reserve(k);
    while (!heap.empty() && out.size() < k) {
        const auto c = heap.top();
        heap.pop();
        const auto& hit = lists[c.list][c.pos];
        // Replicas of a shard return identical hits, which the order makes adjacent.
        if (out.empty() || out.back() != hit) out.push_back(hit);
        if (c.pos + 1 < lists[c.list].size()) heap.push({c.list, c.pos + 1});
    }
    return out;
}

std::uint32_t reduced_shard_depth(std::uint32_t k, std::uint32_t shards, double epsilon) {
    if (epsilon <= 0.0 || shards <= 1 || k <= 1) return k;
    // Binomial(k, p) tail from the pmf in log space (k is at most a few thousand).
    const double p = 1.0 / static_cast<double>(shards);
    const double lp = std::log(p);
    const double lq = std::log1p(-p);
    double cdf = 0.0;
    for (std::uint32_t d = 0; d < k; ++d) {
        const double log_pmf = std::lgamma(k + 1.0) - std::lgamma(d + 1.0) - std::lgamma(k - d + 1.0) + d * lp + (k - d) * lq;
        cdf += std::exp(log_pmf);
        if (d >= 1 && static_cast<double>(shards) * std::max(0.0, 1.0 - cdf) <= epsilon) return d;
    }
    return k;
}

bool may_hide_more(std::span<const GlobalHit> shard_list, std::uint32_t shard_depth, std::span<const GlobalHit> merged, std::size_t k) {
    if (shard_list.size() < shard_depth) return false;  // the shard ran out of matches: it has shown everything
    if (merged.size() < k) return true;
    return !ranks_before(merged[k - 1], shard_list.back());  // its last hit reaches the global cut (ties included)
}

std::vector<std::vector<GlobalHit>> as_global_hits(const std::vector<std::vector<Hit>>& per_query) {
    std::vector<std::vector<GlobalHit>> out(per_query.size());
    for (std::size_t q = 0; q < per_query.size(); ++q) {
        out[q].reserve(per_query[q].size());
        for (const auto& h : per_query[q]) out[q].push_back({h.doc, h.score});
    }
    return out;
}

}  // namespace aftershock
