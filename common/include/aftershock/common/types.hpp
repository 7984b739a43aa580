#pragma once
// Basic value types shared by every module.
#include <cstdint>
#include <span>

namespace aftershock {

/// Position of a document (or query) inside a corpus or shard: 0..n-1.
using DocIndex = std::uint32_t;

/// One search result: a document position and its score (higher is better).
struct Hit {
    DocIndex doc = 0;
    float score = 0.0F;
    friend bool operator==(const Hit&, const Hit&) = default;
};

/// Result order used everywhere: higher score first, ties broken by the lower document index.
[[nodiscard]] constexpr bool ranks_before(const Hit& a, const Hit& b) noexcept {
    return a.score > b.score || (a.score == b.score && a.doc < b.doc);
}

/// A read-only sparse vector: ascending component ids and their positive values.
struct SparseView {
    std::span<const std::uint32_t> indices;
    std::span<const float> values;
    [[nodiscard]] std::size_t size() const noexcept { return indices.size(); }
    [[nodiscard]] bool empty() const noexcept { return indices.empty(); }
};

}  // namespace aftershock
