#include "aftershock/common/seismic/forward_index.hpp"

#include "aftershock/common/error.hpp"

#include <algorithm>
#include <numeric>

namespace aftershock::seismic {

namespace {

/// Heavier first; equal weights by ascending component, so the order is a function of the document alone.
bool heavier(float va, std::uint32_t ca, float vb, std::uint32_t cb) noexcept {
    return va > vb || (va == vb && ca < cb);
}

/// Lines [0, Lines) of each document's first `bytes` bytes and the line of its last byte (bytes <= Lines * 64), for
/// documents at least `group` entries long; prefetch_prefix for the shorter ones.
template <std::size_t Lines>
void prefetch_prefix_lines(const ForwardIndex& f, std::span<const PackedPosting> postings, std::uint32_t n,
                           std::uint32_t group, std::size_t bytes) noexcept {
    const auto* base = reinterpret_cast<const char*>(f.packed().data());
    for (const auto p : postings) {
        if (posting_length(p) >= group) [[likely]] {
            const char* d = base + posting_offset(p) * sizeof(std::uint32_t);
            for (std::size_t i = 0; i < Lines; ++i) prefetch_line(d + i * 64);
            prefetch_line(d + bytes - 1);
        } else {
            f.prefetch_prefix(p, n);
        }
    }
}

}  // namespace

void ForwardIndex::prefetch_prefixes(std::span<const PackedPosting> postings, std::uint32_t n) const noexcept {
    // What prefetch_prefix requests of a document at least `group` entries long: `bytes` from its start.
    const std::uint32_t group = whole_groups(n);
    const std::size_t bytes = std::size_t{group} * sizeof(std::uint32_t);
    if (!wide() && n > 0) {
        switch ((bytes + 63) / 64) {
        case 1: return prefetch_prefix_lines<1>(*this, postings, n, group, bytes);
        case 2: return prefetch_prefix_lines<2>(*this, postings, n, group, bytes);
        case 3: return prefetch_prefix_lines<3>(*this, postings, n, group, bytes);
        case 4: return prefetch_prefix_lines<4>(*this, postings, n, group, bytes);
        default: break;
        }
    }
    for (const auto p : postings) prefetch_prefix(p, n);
}

ForwardIndex::ForwardIndex(const CsrMatrix& docs) : m_dim(docs.dim), m_offsets(docs.indptr) {
    ensure<UsageError>(docs.nnz() < (std::uint64_t{1} << 48), "{} nonzeros exceed the 2^48 posting offset range",
                       docs.nnz());
    for (std::size_t d = 0; d < docs.n_rows(); ++d) {
        const auto len = docs.indptr[d + 1] - docs.indptr[d];
        ensure<UsageError>(len <= 0xFFFFU, "document {} has {} nonzeros; a posting holds at most 65,535", d, len);
        // Values are kept as halves: one past 65,504 would become infinite, and a block holding it would never open.
        for (auto i = docs.indptr[d]; i < docs.indptr[d + 1]; ++i) {
            ensure<InputError>(finite_half(f32_to_f16(docs.data[i])),
                               "document {}, component {}: weight {} has no finite f16 (the largest is 65,504); scale "
                               "the corpus's weights down",
                               d, docs.indices[i], docs.data[i]);
        }
    }
    // Each document's entries heaviest first: a prefix of the document is then its heaviest part, which is what
    // screening scores (SearchParams::screen_entries). A dot product does not depend on the order.
    std::vector<std::uint32_t> order;
    const auto sorted_row = [&](std::size_t d) -> const std::vector<std::uint32_t>& {
        const auto b = docs.indptr[d];
        order.resize(docs.indptr[d + 1] - b);
        std::iota(order.begin(), order.end(), 0U);
        // As stored (f16). Every half is finite (checked above), so the comparison is a strict weak order.
        const auto weight = [&](std::uint32_t x) { return f16_to_f32(f32_to_f16(docs.data[b + x])); };
        std::sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) {
            return heavier(weight(x), docs.indices[b + x], weight(y), docs.indices[b + y]);
        });
        return order;
    };
    if (!wide()) {
        m_packed.resize(docs.nnz());
        for (std::size_t d = 0; d < docs.n_rows(); ++d) {
            const auto b = docs.indptr[d];
            const auto& o = sorted_row(d);
            for (std::size_t i = 0; i < o.size(); ++i) {
                m_packed[b + i] = docs.indices[b + o[i]] | (std::uint32_t{f32_to_f16(docs.data[b + o[i]])} << 16);
            }
        }
    } else {
        m_comp32.resize(docs.nnz());
        m_values.resize(docs.nnz());
        for (std::size_t d = 0; d < docs.n_rows(); ++d) {
            const auto b = docs.indptr[d];
            const auto& o = sorted_row(d);
            for (std::size_t i = 0; i < o.size(); ++i) {
                m_comp32[b + i] = docs.indices[b + o[i]];
                m_values[b + i] = f32_to_f16(docs.data[b + o[i]]);
            }
        }
    }
    m_heaviest_first = true;  // and m_finite_values stays true: every value was checked above
    keep_gather_in_range();
    build_doc_table();
}

void ForwardIndex::keep_gather_in_range() noexcept {
    // The SIMD gathers take signed 32-bit indices.
    if (m_dim > (std::uint64_t{1} << 31)) m_kernels = &scalar_kernels();
}

ForwardIndex::ForwardIndex(std::uint64_t dim, std::vector<std::uint64_t> offsets, std::vector<std::uint32_t> packed,
                           std::vector<std::uint32_t> comp32, std::vector<std::uint16_t> values)
    : m_dim(dim), m_offsets(std::move(offsets)), m_packed(std::move(packed)), m_comp32(std::move(comp32)),
      m_values(std::move(values)) {
    keep_gather_in_range();
    m_heaviest_first = check_heaviest_first();
    m_finite_values = check_finite_values();
    build_doc_table();
}

void ForwardIndex::build_doc_table() {
    // Bucket b's entry is the last document starting at or before b << shift; a position in bucket b then lies in a
    // document between the entries of b and b + 1. One more bucket than the positions need, so b + 1 always exists.
    m_bucket_doc.clear();
    if (n_docs() == 0) return;  // doc_at() searches the whole (empty) array then
    const auto n_buckets = (nnz() >> kBucketShift) + 2;
    m_bucket_doc.assign(n_buckets, 0);
    std::size_t d = 0;
    for (std::uint64_t b = 0; b < n_buckets; ++b) {
        const auto pos = b << kBucketShift;
        while (d + 1 < n_docs() && m_offsets[d + 1] <= pos) ++d;
        m_bucket_doc[b] = static_cast<DocIndex>(d);
    }
}

void ForwardIndex::row_by_term(std::size_t doc, std::vector<std::pair<std::uint32_t, float>>& out) const {
    out.clear();
    for (auto i = m_offsets[doc]; i < m_offsets[doc + 1]; ++i) out.emplace_back(component(i), value(i));
    std::sort(out.begin(), out.end());
}

bool ForwardIndex::check_finite_values() const noexcept {
    bool finite = true;
    for (const auto e : m_packed) finite &= finite_half(static_cast<std::uint16_t>(e >> 16));
    for (const auto v : m_values) finite &= finite_half(v);
    return finite;
}

bool ForwardIndex::check_heaviest_first() const noexcept {
    for (std::size_t d = 0; d < n_docs(); ++d) {
        for (auto i = m_offsets[d] + 1; i < m_offsets[d + 1]; ++i) {
            if (!heavier(value(i - 1), component(i - 1), value(i), component(i))) return false;
        }
    }
    return true;
}

std::uint64_t ForwardIndex::bytes() const noexcept {
    return m_offsets.size() * sizeof(std::uint64_t) + m_packed.size() * sizeof(std::uint32_t) +
           m_comp32.size() * sizeof(std::uint32_t) + m_values.size() * sizeof(std::uint16_t);
}

}  // namespace aftershock::seismic
