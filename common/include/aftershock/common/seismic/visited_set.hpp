#pragma once
// The documents one query has put into its heap (so none enters twice): open addressing over forward-index
// offsets, cleared in time proportional to what was inserted, so it is reused across queries without reallocating.
#include <cstdint>
#include <vector>

namespace aftershock::seismic {

class VisitedSet {
public:
    explicit VisitedSet(std::size_t initial_capacity = 1U << 14) { rehash(round_up(initial_capacity)); }

    /// Inserts key; returns false if it was already present. May grow the table (and throw std::bad_alloc).
    bool insert(std::uint64_t key) {
        if (2 * (m_used.size() + 1) > m_slots.size()) grow();
        const std::uint64_t stored = key + 1;  // 0 marks an empty slot; offset 0 is a real key
        std::size_t i = hash(stored) & m_mask;
        while (m_slots[i] != 0) {
            if (m_slots[i] == stored) return false;
            i = (i + 1) & m_mask;
        }
        m_slots[i] = stored;
        m_used.push_back(i);
        return true;
    }
    /// Whether key was inserted.
    [[nodiscard]] bool contains(std::uint64_t key) const noexcept {
        const std::uint64_t stored = key + 1;
        for (std::size_t i = hash(stored) & m_mask; m_slots[i] != 0; i = (i + 1) & m_mask) {
            if (m_slots[i] == stored) return true;
        }
        return false;
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_used.size(); }
    void clear() noexcept {
        for (auto i : m_used) m_slots[i] = 0;
        m_used.clear();
    }

private:
    static std::size_t round_up(std::size_t n) {
        std::size_t c = 16;
        while (c < n) c <<= 1;
        return c;
    }
    static std::size_t hash(std::uint64_t x) noexcept {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return static_cast<std::size_t>(x);
    }
    void rehash(std::size_t capacity) {
        std::vector<std::uint64_t> old;
        old.reserve(m_used.size());
        for (auto i : m_used) old.push_back(m_slots[i]);
        m_slots.assign(capacity, 0);
        m_mask = capacity - 1;
        m_used.clear();
        m_used.reserve(capacity / 2);
        for (auto stored : old) insert(stored - 1);
    }
    void grow() { rehash(m_slots.size() * 2); }

    std::vector<std::uint64_t> m_slots;
    std::vector<std::size_t> m_used;
    std::size_t m_mask = 0;
};

}  // namespace aftershock::seismic
