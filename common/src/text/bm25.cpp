#include "aftershock/common/text/bm25.hpp"

#include "aftershock/common/error.hpp"

#include <algorithm>
#include <cmath>

namespace aftershock::text {

void validate(const Bm25Params& p) {
    ensure<UsageError>(std::isfinite(p.k1) && p.k1 >= 0, "BM25 k1 must be >= 0, got {}", p.k1);
    ensure<UsageError>(std::isfinite(p.b) && p.b >= 0 && p.b <= 1, "BM25 b must be in [0, 1], got {}", p.b);
}

double bm25_idf(std::uint64_t n_docs, std::uint64_t df) noexcept {
    const auto n = static_cast<double>(n_docs);
    const auto f = static_cast<double>(df);
    return std::log(1.0 + (n - f + 0.5) / (f + 0.5));
}

double bm25_weight(double idf, double tf, double doc_len, double avgdl, const Bm25Params& p) noexcept {
    const double norm = avgdl > 0 ? 1.0 - p.b + p.b * doc_len / avgdl : 1.0;
    return idf * tf * (p.k1 + 1.0) / (tf + p.k1 * norm);
}

TermCounts count_terms(std::span<const std::uint32_t> tokens, std::uint32_t skip) {
    std::vector<std::uint32_t> sorted;
    sorted.reserve(tokens.size());
    for (const auto t : tokens) {
        if (t != skip) sorted.push_back(t);
    }
    std::sort(sorted.begin(), sorted.end());
    TermCounts out;
    for (std::size_t i = 0; i < sorted.size();) {
        std::size_t j = i;
        while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
        out.ids.push_back(sorted[i]);
        out.counts.push_back(static_cast<std::uint32_t>(j - i));
        i = j;
    }
    return out;
}

}  // namespace aftershock::text
