#pragma once
// The document store of a Seismic index: CSR with u16 components (u32 when the vocabulary exceeds 65,536
// terms) and f16 values. Exact document scores are computed from it against a densified f32 query.
#include "aftershock/common/seismic/f16.hpp"
#include "aftershock/common/sparse_matrix.hpp"

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace aftershock::seismic {

/// A posting packs a document's forward-index offset (48 bits) and its length (16 bits), as in Seismic:
/// the inverted index needs no doc ids, and scoring a posting needs no second lookup.
using PackedPosting = std::uint64_t;
[[nodiscard]] constexpr PackedPosting pack_posting(std::uint64_t offset, std::uint32_t len) noexcept {
    return (offset << 16) | len;
}
[[nodiscard]] constexpr std::uint64_t posting_offset(PackedPosting p) noexcept { return p >> 16; }
[[nodiscard]] constexpr std::uint32_t posting_length(PackedPosting p) noexcept { return static_cast<std::uint32_t>(p & 0xFFFFU); }

class ForwardIndex {
public:
    ForwardIndex() = default;
    /// Converts documents (values to f16, components to u16 when dim <= 65,536). Throws UsageError for a
    /// document with more than 65,535 nonzeros or more than 2^48 nonzeros in total.
    explicit ForwardIndex(const CsrMatrix& docs);
    /// Adopts arrays read from a shard file (validated by the caller).
    ForwardIndex(std::uint64_t dim, std::vector<std::uint64_t> offsets, std::vector<std::uint16_t> comp16,
                 std::vector<std::uint32_t> comp32, std::vector<std::uint16_t> values);

    [[nodiscard]] std::size_t n_docs() const noexcept { return m_offsets.size() - 1; }
    [[nodiscard]] std::uint64_t nnz() const noexcept { return m_values.size(); }
    [[nodiscard]] std::uint64_t dim() const noexcept { return m_dim; }
    [[nodiscard]] bool wide() const noexcept { return !m_comp32.empty() || (m_comp16.empty() && m_dim > 65536); }
    [[nodiscard]] std::uint32_t length(std::size_t doc) const noexcept {
        return static_cast<std::uint32_t>(m_offsets[doc + 1] - m_offsets[doc]);
    }
    [[nodiscard]] PackedPosting posting(std::size_t doc) const noexcept { return pack_posting(m_offsets[doc], length(doc)); }
    /// Document whose vector starts at `offset` (binary search; offsets of non-empty docs are unique).
    [[nodiscard]] DocIndex doc_at(std::uint64_t offset) const noexcept {
        const auto it = std::upper_bound(m_offsets.begin(), m_offsets.end(), offset);
        return static_cast<DocIndex>(it - m_offsets.begin() - 1);
    }
    [[nodiscard]] std::uint32_t component(std::uint64_t pos) const noexcept {
        return m_comp32.empty() ? m_comp16[pos] : m_comp32[pos];
    }
    [[nodiscard]] float value(std::uint64_t pos) const noexcept { return f16_to_f32(m_values[pos]); }

    /// <query, document> with the query densified into `dense_query` (length dim); f32 accumulation.
    [[nodiscard]] float dot(const float* dense_query, PackedPosting p) const noexcept {
        const auto off = posting_offset(p);
        const auto len = posting_length(p);
        return m_comp32.empty() ? dot_impl(m_comp16.data() + off, off, len, dense_query)
                                : dot_impl(m_comp32.data() + off, off, len, dense_query);
    }
    /// Hints the CPU to fetch a whole document vector (every cache line of its components and values)
    /// before it is scored: scoring a block is bound by memory latency, not arithmetic.
    void prefetch(PackedPosting p) const noexcept {
        const auto off = posting_offset(p);
        const auto len = posting_length(p);
        prefetch_range(m_values.data() + off, len * sizeof(std::uint16_t));
        if (m_comp32.empty()) prefetch_range(m_comp16.data() + off, len * sizeof(std::uint16_t));
        else prefetch_range(m_comp32.data() + off, len * sizeof(std::uint32_t));
    }

    [[nodiscard]] const std::vector<std::uint64_t>& offsets() const noexcept { return m_offsets; }
    [[nodiscard]] const std::vector<std::uint16_t>& components16() const noexcept { return m_comp16; }
    [[nodiscard]] const std::vector<std::uint32_t>& components32() const noexcept { return m_comp32; }
    [[nodiscard]] const std::vector<std::uint16_t>& values() const noexcept { return m_values; }
    /// Bytes of the arrays (offsets, components, values).
    [[nodiscard]] std::uint64_t bytes() const noexcept;

private:
    static void prefetch_range(const void* begin, std::size_t bytes) noexcept {
        const auto* p = static_cast<const char*>(begin);
        for (std::size_t i = 0; i < bytes; i += 64) __builtin_prefetch(p + i);
        __builtin_prefetch(p + bytes - 1);
    }
    template <typename C>
    [[nodiscard]] float dot_impl(const C* comps, std::uint64_t off, std::uint32_t len, const float* q) const noexcept {
        const std::uint16_t* vals = m_values.data() + off;
        // Four independent sums hide the add latency; the order is fixed, so scores are reproducible
        // (they may differ from a sequential sum in the last bits).
        float s0 = 0.0F;
        float s1 = 0.0F;
        float s2 = 0.0F;
        float s3 = 0.0F;
        std::uint32_t i = 0;
        for (; i + 4 <= len; i += 4) {
            s0 += q[comps[i]] * f16_to_f32(vals[i]);
            s1 += q[comps[i + 1]] * f16_to_f32(vals[i + 1]);
            s2 += q[comps[i + 2]] * f16_to_f32(vals[i + 2]);
            s3 += q[comps[i + 3]] * f16_to_f32(vals[i + 3]);
        }
        for (; i < len; ++i) s0 += q[comps[i]] * f16_to_f32(vals[i]);
        return (s0 + s1) + (s2 + s3);
    }
    std::uint64_t m_dim = 0;
    std::vector<std::uint64_t> m_offsets{0};
    std::vector<std::uint16_t> m_comp16;
    std::vector<std::uint32_t> m_comp32;
    std::vector<std::uint16_t> m_values;
};

}  // namespace aftershock::seismic
