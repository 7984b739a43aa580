#pragma once
// The document store of a Seismic index: CSR with f16 values. With a vocabulary of at most 65,536 terms
// each nonzero is one u32 (component in the low 16 bits, f16 value in the high 16), so a document is one
// contiguous run of memory; larger vocabularies keep u32 components and f16 values side by side.
// Exact document scores are computed from it against a densified f32 query. Built indexes keep each
// document's entries heaviest first (ties by component), so that a short prefix can screen a document.
#include "aftershock/common/seismic/dot_kernels.hpp"
#include "aftershock/common/seismic/f16.hpp"
#include "aftershock/common/seismic/prefetch.hpp"
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
    /// Converts documents (values to f16; packed layout when dim <= 65,536). Throws UsageError for a
    /// document with more than 65,535 nonzeros or more than 2^48 nonzeros in total.
    explicit ForwardIndex(const CsrMatrix& docs);
    /// Adopts arrays read from a shard file (validated by the caller): `packed` for narrow vocabularies,
    /// or `comp32` with `values` for wide ones. Entries may be in any order within a document; whether they
    /// are heaviest first (every index built since screening exists) is checked here.
    ForwardIndex(std::uint64_t dim, std::vector<std::uint64_t> offsets, std::vector<std::uint32_t> packed,
                 std::vector<std::uint32_t> comp32, std::vector<std::uint16_t> values);

    [[nodiscard]] std::size_t n_docs() const noexcept { return m_offsets.size() - 1; }
    [[nodiscard]] std::uint64_t nnz() const noexcept { return m_offsets.back(); }
    [[nodiscard]] std::uint64_t dim() const noexcept { return m_dim; }
    [[nodiscard]] bool wide() const noexcept { return m_dim > 65536; }
    /// True when every document's entries are in descending weight (ties by ascending component): a prefix
    /// of a document is then its heaviest part. Shards built before screening keep term order.
    [[nodiscard]] bool heaviest_first() const noexcept { return m_heaviest_first; }
    /// True when no stored value is an infinite or NaN half: the kernels that convert halves with integer arithmetic
    /// (ScreeningTable) are exact only for finite ones. Building from a corpus refuses such values (a weight past
    /// 65,504); arrays loaded from a file are checked.
    [[nodiscard]] bool finite_values() const noexcept { return m_finite_values; }
    [[nodiscard]] std::uint32_t length(std::size_t doc) const noexcept {
        return static_cast<std::uint32_t>(m_offsets[doc + 1] - m_offsets[doc]);
    }
    [[nodiscard]] PackedPosting posting(std::size_t doc) const noexcept { return pack_posting(m_offsets[doc], length(doc)); }
    /// Document whose vector holds position `offset` (for a posting's offset: the document it names; offsets of
    /// non-empty docs are unique). The bucket table narrows the search to the few documents that start in the
    /// offset's bucket: one or two cache misses instead of a binary search's ~20 dependent probes over all offsets.
    [[nodiscard]] DocIndex doc_at(std::uint64_t offset) const noexcept {
        const auto b = offset >> kBucketShift;
        auto lo = m_offsets.begin();
        auto hi = m_offsets.end();
        if (b + 1 < m_bucket_doc.size()) {
            // Up to and including the start of the document after bucket b + 1's: past the last document, the answer is
            // then the whole search's too.
            lo += m_bucket_doc[b];
            hi = m_offsets.begin() + m_bucket_doc[b + 1] + 2;
        }
        return static_cast<DocIndex>(std::upper_bound(lo, hi, offset) - m_offsets.begin() - 1);
    }
    /// Bytes of the bucket table behind doc_at() (derived at construction, not stored).
    [[nodiscard]] std::uint64_t doc_table_bytes() const noexcept { return m_bucket_doc.size() * sizeof(DocIndex); }
    /// Document `doc` as (component, value) pairs in ascending component order, whatever the stored order
    /// (queries and feedback need ascending terms). `out` is overwritten; its capacity is reused.
    void row_by_term(std::size_t doc, std::vector<std::pair<std::uint32_t, float>>& out) const;
    [[nodiscard]] std::uint32_t component(std::uint64_t pos) const noexcept {
        return wide() ? m_comp32[pos] : (m_packed[pos] & 0xFFFFU);
    }
    [[nodiscard]] float value(std::uint64_t pos) const noexcept {
        return f16_to_f32(wide() ? m_values[pos] : static_cast<std::uint16_t>(m_packed[pos] >> 16));
    }

    /// <query, document> with the query densified into `dense_query` (length dim); f32 accumulation.
    [[nodiscard]] float dot(const float* dense_query, PackedPosting p) const noexcept {
        return dot_prefix(dense_query, p, posting_length(p));
    }
    /// <query, first min(n, length) entries of the document>: with heaviest_first(), the document's heaviest part.
    [[nodiscard]] float dot_prefix(const float* dense_query, PackedPosting p, std::uint32_t n) const noexcept {
        const auto off = posting_offset(p);
        const auto len = std::min(posting_length(p), n);
        return wide() ? m_kernels->wide(m_comp32.data() + off, m_values.data() + off, len, dense_query)
                      : m_kernels->packed(m_packed.data() + off, len, dense_query);
    }
    /// The running sums after the first min(n, length) entries: total() is dot_prefix(n) bit for bit.
    [[nodiscard]] DotSums prefix_sums(const float* dense_query, PackedPosting p, std::uint32_t n) const noexcept {
        DotSums sums;
        add_entries(dense_query, p, 0, std::min(posting_length(p), n), sums);
        return sums;
    }
    /// dot() bit for bit, carrying on from prefix_sums(dense_query, p, n): for a document that passed screening,
    /// only the entries after the prefix are read. A prefix that is not a multiple of 4 entries (its tail sits in
    /// sum 0) cannot be carried on from: that document is scored again from the start.
    [[nodiscard]] float resume(const float* dense_query, PackedPosting p, std::uint32_t n, DotSums sums) const noexcept {
        const auto len = posting_length(p);
        if (n >= len) return sums.total();
        if (n % 4 != 0) return dot(dense_query, p);
        add_entries(dense_query, p, n, len - n, sums);
        return sums.total();
    }
    /// Replaces the scoring kernels (tests, A/B benchmarks); every choice gives the same bits.
    void set_kernels(const DotKernels& k) noexcept { m_kernels = &k; }
    [[nodiscard]] const DotKernels& kernels() const noexcept { return *m_kernels; }
    /// Hints the CPU to fetch a whole document vector before it is scored: scoring is bound by memory
    /// latency, not arithmetic.
    void prefetch(PackedPosting p) const noexcept { prefetch_prefix(p, posting_length(p)); }

    /// Prefetches what scoring the first min(n, length) entries reads (what screening reads first). The narrow kernels
    /// load a last group of 1-7 entries as a masked group of 8, and the CPU fetches the masked-off entries' line too:
    /// so whole groups of 8 are requested, as far as the document goes. With a 44-entry prefix, requesting only the 44
    /// made queries 18-29% slower; past the document's end, covering the group measured no gain (docs/BENCHMARKS.md,
    /// session 17).
    void prefetch_prefix(PackedPosting p, std::uint32_t n) const noexcept {
        const auto off = posting_offset(p);
        const auto len = std::min(posting_length(p), n);
        if (len == 0) return;
        if (!wide()) {
            const auto read = std::min(posting_length(p), whole_groups(len));
            prefetch_range(m_packed.data() + off, read * sizeof(std::uint32_t));
        } else {
            prefetch_range(m_values.data() + off, len * sizeof(std::uint16_t));
            prefetch_range(m_comp32.data() + off, len * sizeof(std::uint32_t));
        }
    }

    /// The entries the narrow kernels read to score the first n of a long enough document: whole groups of 8.
    [[nodiscard]] static constexpr std::uint32_t whole_groups(std::uint32_t n) noexcept { return (n + 7U) & ~7U; }
    /// prefetch_prefix(p, n) for every posting of a block, with the lines worked out once for the block instead of
    /// looped over per document: the loop's instructions were 2-3% of a query at the 0.99 point.
    void prefetch_prefixes(std::span<const PackedPosting> postings, std::uint32_t n) const noexcept;

    /// Prefetches the entries after the first n (what a document that passed screening reads next).
    void prefetch_tail(PackedPosting p, std::uint32_t n) const noexcept {
        const auto off = posting_offset(p);
        const auto len = posting_length(p);
        if (len <= n) return;
        if (!wide()) {
            prefetch_range(m_packed.data() + off + n, (len - n) * sizeof(std::uint32_t));
        } else {
            prefetch_range(m_values.data() + off + n, (len - n) * sizeof(std::uint16_t));
            prefetch_range(m_comp32.data() + off + n, (len - n) * sizeof(std::uint32_t));
        }
    }

    /// Hints the CPU to fetch where document `doc` starts and ends (what posting(doc) reads).
    void prefetch_posting(std::size_t doc) const noexcept { prefetch_line(m_offsets.data() + doc); }

    [[nodiscard]] const std::vector<std::uint64_t>& offsets() const noexcept { return m_offsets; }
    [[nodiscard]] const std::vector<std::uint32_t>& packed() const noexcept { return m_packed; }
    [[nodiscard]] const std::vector<std::uint32_t>& components32() const noexcept { return m_comp32; }
    [[nodiscard]] const std::vector<std::uint16_t>& values32() const noexcept { return m_values; }
    /// Bytes of the arrays.
    [[nodiscard]] std::uint64_t bytes() const noexcept;

private:
    /// Positions per doc_at() bucket: 512 (~4 documents of SPLADE length), so the table takes 4 bytes per 512 entries
    /// (0.2% of the forward index).
    static constexpr unsigned kBucketShift = 9;
    void build_doc_table();
    /// Adds entries [from, from + n) of the document to the sums.
    void add_entries(const float* dense_query, PackedPosting p, std::uint32_t from, std::uint32_t n, DotSums& sums) const noexcept {
        const auto off = posting_offset(p) + from;
        if (wide()) m_kernels->wide_sums(m_comp32.data() + off, m_values.data() + off, n, dense_query, sums);
        else m_kernels->packed_sums(m_packed.data() + off, n, dense_query, sums);
    }
    void keep_gather_in_range() noexcept;
    [[nodiscard]] bool check_heaviest_first() const noexcept;
    [[nodiscard]] bool check_finite_values() const noexcept;
    std::uint64_t m_dim = 0;
    bool m_heaviest_first = true;  ///< an empty index is trivially ordered
    bool m_finite_values = true;
    const DotKernels* m_kernels = &active_kernels();
    std::vector<std::uint64_t> m_offsets{0};
    std::vector<std::uint32_t> m_packed;   ///< narrow: component | f16 << 16
    std::vector<std::uint32_t> m_comp32;   ///< wide
    std::vector<std::uint16_t> m_values;   ///< wide: f16
    /// Per bucket b: the document holding position b << kBucketShift (the last one starting at or before it).
    std::vector<DocIndex> m_bucket_doc;
};

}  // namespace aftershock::seismic
