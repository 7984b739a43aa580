#include "aftershock/common/exact_search.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/huge_pages.hpp"
#include "aftershock/common/parallel.hpp"

#include <algorithm>
#include <chrono>

extern "C" {
// Fortran BLAS (OpenBLAS through Debian's libblas.so.3 alternative), declared as FAISS does.
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c, const int* ldc);
void sgemv_(const char* trans, const int* m, const int* n, const float* alpha, const float* a, const int* lda,
            const float* x, const int* incx, const float* beta, float* y, const int* incy);
}

namespace aftershock {

SparseExactIndex::SparseExactIndex(const CsrMatrix& docs)
    : m_n_docs(docs.n_rows()), m_dim(docs.dim), m_term_offsets(docs.dim + 1, 0), m_docs(docs.nnz()),
      m_values(docs.nnz()) {
    ensure<UsageError>(m_n_docs <= std::numeric_limits<DocIndex>::max(), "{} documents exceed the u32 doc index",
                       m_n_docs);
    for (auto t : docs.indices) ++m_term_offsets[t + 1];
    for (std::size_t t = 0; t < m_dim; ++t) m_term_offsets[t + 1] += m_term_offsets[t];
    std::vector<std::uint64_t> fill(m_term_offsets.begin(), m_term_offsets.end() - 1);
    // Rows in ascending order, so every posting list is sorted by document.
    for (std::size_t d = 0; d < m_n_docs; ++d) {
        for (auto j = docs.indptr[d]; j < docs.indptr[d + 1]; ++j) {
            const auto pos = fill[docs.indices[j]]++;
            m_docs[pos] = static_cast<DocIndex>(d);
            m_values[pos] = docs.data[j];
        }
    }
    // The same pages as a Seismic shard gets, so that speedups against this oracle compare like with like.
    collapse_huge_pages(m_docs);
    collapse_huge_pages(m_values);
}

std::vector<Hit> SparseExactIndex::search(const SparseView& query, std::size_t k, SparseExactScratch& scratch) const {
    auto& acc = scratch.accumulators;
    auto& touched = scratch.touched;
    if (acc.size() != m_n_docs) {
        acc.assign(m_n_docs, 0.0F);
        collapse_huge_pages(acc);  // written at random: 4 MB per million documents
    }
    touched.clear();
    std::size_t postings = 0;
    for (std::size_t i = 0; i < query.size(); ++i) {
        const auto t = query.indices[i];
        if (t >= m_dim) continue;
        postings += m_term_offsets[t + 1] - m_term_offsets[t];
    }
    // Sparse answers touch few documents: remember them instead of scanning every accumulator.
    const bool track = postings < m_n_docs / 8;
    // The arrays through local pointers, and the tracking test out of the untracked loop: the compiler then keeps
    // them in registers instead of reloading them around push_back's possible call on every posting. That loop's
    // speed also swung by 30% with where the linker placed it (4.4 against 5.8 ms per query at 1M documents).
    const DocIndex* docs = m_docs.data();
    const float* values = m_values.data();
    float* a = acc.data();
    for (std::size_t i = 0; i < query.size(); ++i) {
        const auto t = query.indices[i];
        if (t >= m_dim) continue;
        const float w = query.values[i];
        const auto begin = m_term_offsets[t];
        const auto end = m_term_offsets[t + 1];
        if (track) {
            for (auto p = begin; p < end; ++p) {
                const auto d = docs[p];
                if (a[d] == 0.0F) touched.push_back(d);
                a[d] += w * values[p];
            }
        } else {
            for (auto p = begin; p < end; ++p) a[docs[p]] += w * values[p];
        }
    }
    TopK top(k);
    const auto consider = [&](DocIndex d) {
        const float s = acc[d];
        if (s > 0.0F && s >= top.threshold()) top.push(s, d);
        acc[d] = 0.0F;
    };
    if (track) {
        for (auto d : touched) consider(d);
        return top.take_sorted();
    }
    // Every accumulator, 16 at a time: a run with no document that consider() would offer (the test vectorizes) is
    // only cleared. That was a third of the query, one document at a time.
    constexpr std::size_t kRun = 16;
    std::size_t d = 0;
    for (; d + kRun <= m_n_docs; d += kRun) {
        const float theta = top.threshold();
        unsigned candidates = 0;
        for (std::size_t j = 0; j < kRun; ++j) {
            candidates += static_cast<unsigned>(a[d + j] > 0.0F) & static_cast<unsigned>(a[d + j] >= theta);
        }
        if (candidates == 0) {
            std::fill(a + d, a + d + kRun, 0.0F);
            continue;
        }
        for (std::size_t j = 0; j < kRun; ++j) consider(static_cast<DocIndex>(d + j));
    }
    for (; d < m_n_docs; ++d) consider(static_cast<DocIndex>(d));
    return top.take_sorted();
}

std::vector<std::vector<Hit>> SparseExactIndex::search_batch(const CsrMatrix& queries, std::size_t k, unsigned threads,
                                                             std::vector<double>* latencies_us) const {
    std::vector<std::vector<Hit>> out(queries.n_rows());
    if (latencies_us != nullptr) latencies_us->assign(queries.n_rows(), 0.0);
    const unsigned n_threads = resolve_threads(threads);
    std::vector<SparseExactScratch> scratch(n_threads);
    parallel_for(queries.n_rows(), n_threads, 8, [&](unsigned t, std::size_t begin, std::size_t end) {
        for (auto q = begin; q < end; ++q) {
            const auto start = std::chrono::steady_clock::now();
            out[q] = search(queries.row(q), k, scratch[t]);
            if (latencies_us != nullptr) {
                (*latencies_us)[q] =
                    std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
            }
        }
    });
    return out;
}

DenseExactIndex::DenseExactIndex(const DenseMatrix& docs) : m_docs(docs) {
    ensure<UsageError>(m_docs.n <= std::numeric_limits<DocIndex>::max(), "{} documents exceed the u32 doc index",
                       m_docs.n);
    if (m_docs.metric == Metric::cosine) normalize_rows(m_docs);
    if (m_docs.metric == Metric::l2) {
        m_sq_norms.resize(m_docs.n);
        for (std::size_t i = 0; i < m_docs.n; ++i) {
            float s = 0.0F;
            for (float v : m_docs.row(i)) s += v * v;
            m_sq_norms[i] = s;
        }
    }
}

void DenseExactIndex::score_block(const float* queries, std::size_t nq, std::size_t doc_begin, std::size_t doc_end,
                                  float* out) const {
    // Row-major out[q][j] = <query q, doc doc_begin + j>: in BLAS's column-major view that is D * Q^T.
    const int m = static_cast<int>(doc_end - doc_begin);
    const int n = static_cast<int>(nq);
    const int kd = static_cast<int>(m_docs.d);
    const float one = 1.0F;
    const float zero = 0.0F;
    if (nq == 1) {
        // One query: a matrix-vector product (sgemm with n = 1 pays its blocking overhead for nothing).
        const int inc = 1;
        sgemv_("T", &kd, &m, &one, m_docs.data.data() + doc_begin * m_docs.d, &kd, queries, &inc, &zero, out, &inc);
    } else {
        sgemm_("T", "N", &m, &n, &kd, &one, m_docs.data.data() + doc_begin * m_docs.d, &kd, queries, &kd, &zero, out, &m);
    }
    if (m_docs.metric == Metric::l2) {
        for (std::size_t q = 0; q < nq; ++q) {
            float qn = 0.0F;
            for (std::size_t c = 0; c < m_docs.d; ++c) qn += queries[q * m_docs.d + c] * queries[q * m_docs.d + c];
            float* row = out + q * static_cast<std::size_t>(m);
            for (std::size_t j = 0; j < static_cast<std::size_t>(m); ++j) {
                row[j] = -(qn - 2.0F * row[j] + m_sq_norms[doc_begin + j]);
            }
        }
    }
}

namespace {
constexpr std::size_t kDocBlock = 8192;
constexpr std::size_t kQueryBlock = 128;

DenseMatrix prepared_queries(const DenseMatrix& q, Metric metric, std::size_t d) {
    ensure<InputError>(q.d == d, "query dimension {} does not match the documents' {}", q.d, d);
    DenseMatrix copy = q;
    if (metric == Metric::cosine) normalize_rows(copy);
    return copy;
}
}  // namespace

std::vector<Hit> DenseExactIndex::search(std::span<const float> query, std::size_t k) const {
    DenseMatrix q;
    q.n = 1;
    q.d = query.size();
    q.data.assign(query.begin(), query.end());
    q = prepared_queries(q, m_docs.metric, m_docs.d);
    TopK top(k);
    std::vector<float> scores(kDocBlock);
    for (std::size_t b = 0; b < m_docs.n; b += kDocBlock) {
        const auto e = std::min(m_docs.n, b + kDocBlock);
        score_block(q.data.data(), 1, b, e, scores.data());
        for (std::size_t j = 0; j < e - b; ++j) {
            if (scores[j] >= top.threshold()) top.push(scores[j], static_cast<DocIndex>(b + j));
        }
    }
    return top.take_sorted();
}

std::vector<std::vector<Hit>> DenseExactIndex::search_batch(const DenseMatrix& queries, std::size_t k,
                                                            unsigned threads) const {
    const auto q = prepared_queries(queries, m_docs.metric, m_docs.d);
    std::vector<std::vector<Hit>> out(q.n);
    // Each thread owns whole query blocks and walks all documents: no shared heaps, no locks.
    parallel_for(q.n, threads, kQueryBlock, [&](unsigned, std::size_t begin, std::size_t end) {
        std::vector<TopK> tops(end - begin, TopK(k));
        std::vector<float> scores((end - begin) * kDocBlock);
        for (std::size_t b = 0; b < m_docs.n; b += kDocBlock) {
            const auto e = std::min(m_docs.n, b + kDocBlock);
            score_block(q.data.data() + begin * q.d, end - begin, b, e, scores.data());
            for (std::size_t i = 0; i < end - begin; ++i) {
                const float* row = scores.data() + i * (e - b);
                auto& top = tops[i];
                for (std::size_t j = 0; j < e - b; ++j) {
                    if (row[j] >= top.threshold()) top.push(row[j], static_cast<DocIndex>(b + j));
                }
            }
        }
        for (std::size_t i = 0; i < end - begin; ++i) out[begin + i] = tops[i].take_sorted();
    });
    return out;
}

}  // namespace aftershock
