#pragma once
// Evaluating runs: relevance measures against TREC qrels, computed the way trec_eval computes them, and ANN
// recall against the exact ground truth stored in a corpus file.
#include "aftershock/common/run_file.hpp"

#include <cstddef>
#include <iosfwd>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace aftershock {

struct GroundTruth;

/// TREC relevance judgments. A relevance value > 0 means relevant (trec_eval's default level 1); the graded value
/// is the nDCG gain. Zero and negative values (Cranfield's -1, "judged in pool, unjudged") are not relevant.
struct Qrels {
    std::map<std::string, std::map<std::string, int>> queries;  ///< qid -> docid -> relevance
    [[nodiscard]] std::size_t n_judgments() const noexcept;
};

/// Reads `qid iter docid rel` lines (whitespace separated; iter is ignored; `#` starts a comment line; blank lines
/// are skipped). Throws InputError naming the file and line for a wrong column count, a non-integer relevance, or a
/// document judged twice for one query (trec_eval refuses that too); Error if the file cannot be read.
[[nodiscard]] Qrels read_qrels(const std::string& path);
/// The same from a stream; `source` names it in error messages.
[[nodiscard]] Qrels parse_qrels(std::istream& in, std::string_view source);

struct EvalOptions {
    /// trec_eval -c: average over every query of the qrels, counting the ones the run lacks as 0. Without it the
    /// average covers the queries that are both in the run and in the qrels.
    bool complete = false;
    /// Leave out queries whose judgments contain no relevant document. trec_eval keeps them (every measure 0).
    bool skip_no_relevant = false;
    std::vector<std::size_t> ndcg_depths{10};        ///< ndcg_cut_<k>
    std::vector<std::size_t> precision_depths{10, 30};  ///< P_<k>
    std::vector<std::size_t> recall_depths{100, 1000};  ///< recall_<k>
};

struct EvalResult {
    std::size_t n_queries = 0;   ///< queries averaged over (trec_eval's num_q)
    std::size_t n_missing = 0;   ///< judged queries the run lacks (0 under `complete`, otherwise left out)
    std::size_t n_unjudged = 0;  ///< run queries without judgments (ignored, as in trec_eval)
    std::vector<std::string> metrics;  ///< measure names in display order: map, ndcg_cut_10, P_10, ..., recall_1000
    std::map<std::string, double> mean;                               ///< measure -> mean over n_queries
    std::map<std::string, std::map<std::string, double>> per_query;  ///< qid -> measure -> value
};

/// Scores a run like trec_eval: each query's documents are ranked by score descending, ties broken by docid
/// descending (byte order); the rank column is ignored. Measures: map (AP), ndcg_cut_k (gain = relevance value,
/// discount log2(rank + 1), ideal from the qrels), P_k (relevant in the top k / k) and recall_k (relevant in the top k
/// / relevant judged). A query with no relevant document scores 0 everywhere. Throws UsageError for a depth of 0,
/// InputError if no query is in both the run and the qrels (and `complete` is off) or a document is listed twice.
[[nodiscard]] EvalResult evaluate(const Run& run, const Qrels& qrels, const EvalOptions& options = {});

/// ANN recall of a run against exact ground truth.
struct RecallResult {
    std::size_t k = 0;
    double recall = 0.0;                 ///< mean of per_query
    std::size_t n_queries = 0;           ///< ground-truth queries (all of them count)
    std::size_t n_missing = 0;           ///< of those, absent from the run (recall 0)
    std::size_t n_unknown_queries = 0;   ///< run queries that are not corpus queries (ignored)
    std::vector<std::string> query_ids;  ///< external id of each ground-truth query
    std::vector<double> per_query;       ///< recall of each ground-truth query, same order
};

/// recall@k = mean over ground-truth queries of |run top-k ∩ ground-truth top-k| / k. The run uses external ids:
/// doc_ids / query_ids map corpus rows to them (empty: the implicit ids "0".."n-1"; doc_ids then covers n_docs rows).
/// A query's run top-k is its k lines of lowest rank (ties: higher score, then docid descending). Ground-truth
/// entries of -1 are padding (fewer than k documents) and shrink the denominator. Throws UsageError if k is 0 or
/// exceeds the ground truth's depth; InputError for a run document id that is not in the corpus, for id lists
/// whose sizes or uniqueness do not match, or for a ground-truth index out of range.
[[nodiscard]] RecallResult recall_at_k(const Run& run, const GroundTruth& gt, const std::vector<std::string>& doc_ids,
                                       std::size_t n_docs, const std::vector<std::string>& query_ids, std::size_t k);

/// The same with ids, document count and /groundtruth/<mode> read from a corpus file. Throws UsageError for an
/// unknown mode and InputError if that ground truth is missing (it says to run `aftershock groundtruth`).
[[nodiscard]] RecallResult recall_at_k(const Run& run, const std::string& corpus_path, std::string_view mode,
                                       std::size_t k);

}  // namespace aftershock
