#pragma once
// BM25 document-side weights, so that a sparse dot product with a query of token counts is the BM25 score:
//   w(t,d) = idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl)),  idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))
// (Lucene's idf; the (k1 + 1) factor, which Lucene 8+ omits, scales every score alike and changes no ranking).
#include <cstdint>
#include <span>
#include <vector>

namespace aftershock::text {

struct Bm25Params {
    double k1 = 0.9;  ///< Anserini's defaults
    double b = 0.4;
};

/// Throws UsageError unless k1 >= 0 and 0 <= b <= 1 (both finite).
void validate(const Bm25Params& p);

[[nodiscard]] double bm25_idf(std::uint64_t n_docs, std::uint64_t df) noexcept;
[[nodiscard]] double bm25_weight(double idf, double tf, double doc_len, double avgdl, const Bm25Params& p) noexcept;

/// Distinct token ids of a token sequence (ascending) and how often each occurs; `skip` (e.g. [UNK]) is left out.
struct TermCounts {
    std::vector<std::uint32_t> ids;
    std::vector<std::uint32_t> counts;
};
[[nodiscard]] TermCounts count_terms(std::span<const std::uint32_t> tokens, std::uint32_t skip);

}  // namespace aftershock::text
