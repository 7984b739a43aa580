#include "aftershock/common/groundtruth.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/exact_search.hpp"

#include <cmath>

namespace aftershock {

std::string_view to_string(SearchMode m) noexcept { return m == SearchMode::sparse ? "sparse" : "dense"; }

SearchMode parse_search_mode(std::string_view s) {
    if (s == "sparse") return SearchMode::sparse;
    if (s == "dense") return SearchMode::dense;
    throw UsageError(fmt::format("unknown mode '{}' (expected sparse or dense)", s));
}

GroundTruth compute_groundtruth(const Corpus& corpus, SearchMode mode, std::size_t k, unsigned threads) {
    ensure<UsageError>(k > 0, "k must be positive");
    std::vector<std::vector<Hit>> results;
    bool l2 = false;
    if (mode == SearchMode::sparse) {
        ensure<InputError>(corpus.doc_sparse && corpus.query_sparse,
                           "sparse ground truth needs /docs/sparse and /queries/sparse");
        const SparseExactIndex index(*corpus.doc_sparse);
        results = index.search_batch(*corpus.query_sparse, k, threads);
    } else {
        ensure<InputError>(corpus.doc_dense && corpus.query_dense,
                           "dense ground truth needs /docs/dense and /queries/dense");
        const DenseExactIndex index(*corpus.doc_dense);
        results = index.search_batch(*corpus.query_dense, k, threads);
        l2 = corpus.doc_dense->metric == Metric::l2;
    }
    GroundTruth gt;
    gt.n_queries = results.size();
    gt.k = k;
    gt.neighbors.assign(gt.n_queries * k, -1);
    gt.distances.assign(gt.n_queries * k, 0.0F);
    for (std::size_t q = 0; q < results.size(); ++q) {
        for (std::size_t j = 0; j < results[q].size(); ++j) {
            gt.neighbors[q * k + j] = results[q][j].doc;
            // l2 scores are negated squared distances; store the distance itself.
            gt.distances[q * k + j] = l2 ? std::sqrt(std::max(0.0F, -results[q][j].score)) : results[q][j].score;
        }
    }
    return gt;
}

}  // namespace aftershock
