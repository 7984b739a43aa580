#pragma once
// Bounded top-k selection with the project's result order (higher score, then lower doc index).
#include "aftershock/common/types.hpp"

#include <algorithm>
#include <limits>
#include <vector>

namespace aftershock {

/// Keeps the k best hits seen so far. The worst kept hit sits at the heap root, so threshold() is O(1).
/// Capacity is reserved once; push() never allocates after construction (hot-loop safe).
class TopK {
public:
    explicit TopK(std::size_t k) : m_k(k) { m_heap.reserve(k); }

    /// Would a hit with this score and doc enter the list?
    [[nodiscard]] bool would_enter(float score, DocIndex doc) const noexcept {
        if (m_heap.size() < m_k) return m_k > 0;
        return ranks_before(Hit{doc, score}, m_heap.front());
    }
    void push(float score, DocIndex doc) noexcept {
        if (m_heap.size() < m_k) {
            m_heap.push_back({doc, score});
            std::push_heap(m_heap.begin(), m_heap.end(), ranks_before);
        } else if (m_k > 0 && ranks_before(Hit{doc, score}, m_heap.front())) {
            std::pop_heap(m_heap.begin(), m_heap.end(), ranks_before);
            m_heap.back() = {doc, score};
            std::push_heap(m_heap.begin(), m_heap.end(), ranks_before);
        }
    }
    [[nodiscard]] bool full() const noexcept { return m_heap.size() >= m_k; }
    /// Score of the k-th best hit, or -inf while fewer than k are held.
    [[nodiscard]] float threshold() const noexcept {
        return full() && m_k > 0 ? m_heap.front().score : -std::numeric_limits<float>::infinity();
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_heap.size(); }
    [[nodiscard]] std::size_t k() const noexcept { return m_k; }
    void clear() noexcept { m_heap.clear(); }

    /// The held hits, best first. Leaves the heap empty.
    [[nodiscard]] std::vector<Hit> take_sorted() {
        std::sort_heap(m_heap.begin(), m_heap.end(), ranks_before);
        std::vector<Hit> out;
        out.swap(m_heap);
        m_heap.reserve(m_k);
        return out;
    }

private:
    std::size_t m_k;
    std::vector<Hit> m_heap;
};

}  // namespace aftershock
