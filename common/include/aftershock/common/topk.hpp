#pragma once
// Bounded top-k selection with the project's result order (higher score, then lower doc index).
#include "aftershock/common/types.hpp"

#include <algorithm>
#include <limits>
#include <vector>

namespace aftershock {

/// Keeps the k best entries seen so far. Entry is Hit or any {doc, score} aggregate with a ranks_before()
/// overload. The worst kept entry sits at the heap root, so threshold() is O(1). Capacity is reserved
/// once; push() never allocates after construction (hot-loop safe).
template <typename Entry>
class BasicTopK {
public:
    using Id = decltype(Entry::doc);
    explicit BasicTopK(std::size_t k) : m_k(k) { m_heap.reserve(k); }
    /// Empties the list and sets a new k (no allocation when capacity suffices).
    void reset(std::size_t k) {
        m_k = k;
        m_heap.clear();
        m_heap.reserve(k);
    }

    /// Would an entry with this score and id enter the list?
    [[nodiscard]] bool would_enter(float score, Id doc) const noexcept {
        if (m_heap.size() < m_k) return m_k > 0;
        return ranks_before(Entry{doc, score}, m_heap.front());
    }
    void push(float score, Id doc) noexcept {
        if (m_heap.size() < m_k) {
            m_heap.push_back({doc, score});
            std::push_heap(m_heap.begin(), m_heap.end(), order);
        } else if (m_k > 0 && ranks_before(Entry{doc, score}, m_heap.front())) {
            std::pop_heap(m_heap.begin(), m_heap.end(), order);
            m_heap.back() = {doc, score};
            std::push_heap(m_heap.begin(), m_heap.end(), order);
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

    /// The held entries in heap order (unsorted), e.g. to snapshot the current top-k.
    [[nodiscard]] const std::vector<Entry>& entries() const noexcept { return m_heap; }

    /// The held entries, best first. Leaves the heap empty.
    [[nodiscard]] std::vector<Entry> take_sorted() {
        std::sort_heap(m_heap.begin(), m_heap.end(), order);
        std::vector<Entry> out;
        out.swap(m_heap);
        m_heap.reserve(m_k);
        return out;
    }

private:
    static bool order(const Entry& a, const Entry& b) noexcept { return ranks_before(a, b); }
    std::size_t m_k;
    std::vector<Entry> m_heap;
};

using TopK = BasicTopK<Hit>;

}  // namespace aftershock
