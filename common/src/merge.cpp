#include "aftershock/common/merge.hpp"

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

}  // namespace aftershock
