#pragma once
// Exact search, the oracle every approximate index is measured against.
// Sparse: term-at-a-time accumulation over full posting lists. Dense: blocked inner products through BLAS.
// Both return hits in the project order (higher score first, ties to the lower doc index) and only
// documents that share at least one term with a sparse query.
#include "aftershock/common/dense_matrix.hpp"
#include "aftershock/common/sparse_matrix.hpp"
#include "aftershock/common/topk.hpp"

#include <vector>

namespace aftershock {

/// Per-thread scratch for SparseExactIndex: one accumulator per document, kept zeroed between queries.
struct SparseExactScratch {
    std::vector<float> accumulators;
    std::vector<DocIndex> touched;
};

class SparseExactIndex {
public:
    /// Inverts `docs` (term-major copy of every posting). Memory: 8 bytes per nonzero.
    explicit SparseExactIndex(const CsrMatrix& docs);

    [[nodiscard]] std::size_t n_docs() const noexcept { return m_n_docs; }
    [[nodiscard]] std::uint64_t dim() const noexcept { return m_dim; }

    /// Exact top-k of one query. Each score sums q_t * d_t over terms in ascending id order, so it equals
    /// sparse_dot(query, doc) bit for bit. Query indices >= dim are ignored (no posting can match them).
    [[nodiscard]] std::vector<Hit> search(const SparseView& query, std::size_t k, SparseExactScratch& scratch) const;

    /// Runs every row of `queries` on `threads` threads; latencies_us (optional) gets one entry per query.
    [[nodiscard]] std::vector<std::vector<Hit>> search_batch(const CsrMatrix& queries, std::size_t k, unsigned threads,
                                                             std::vector<double>* latencies_us = nullptr) const;

private:
    std::size_t m_n_docs = 0;
    std::uint64_t m_dim = 0;
    std::vector<std::uint64_t> m_term_offsets;  ///< dim + 1
    std::vector<DocIndex> m_docs;
    std::vector<float> m_values;
};

/// Exact dense search. Scores: inner product (ip), cosine similarity (cosine; both sides normalised),
/// or the negated squared L2 distance (l2), so that a higher score is always better.
class DenseExactIndex {
public:
    explicit DenseExactIndex(const DenseMatrix& docs);
    [[nodiscard]] std::size_t n_docs() const noexcept { return m_docs.n; }
    [[nodiscard]] std::size_t dim() const noexcept { return m_docs.d; }
    [[nodiscard]] Metric metric() const noexcept { return m_docs.metric; }

    /// Top-k of one query (single-threaded).
    [[nodiscard]] std::vector<Hit> search(std::span<const float> query, std::size_t k) const;
    /// Top-k of every row of `queries`, blocked (queries x documents) through BLAS sgemm.
    [[nodiscard]] std::vector<std::vector<Hit>> search_batch(const DenseMatrix& queries, std::size_t k,
                                                             unsigned threads) const;

private:
    void score_block(const float* queries, std::size_t nq, std::size_t doc_begin, std::size_t doc_end,
                     float* out) const;
    DenseMatrix m_docs;               ///< normalised copy for cosine
    std::vector<float> m_sq_norms;    ///< per document, for l2
};

}  // namespace aftershock
