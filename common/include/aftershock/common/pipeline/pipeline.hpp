#pragma once
// The retrieval pipelines of issue 9 as a state machine over *global* operations: it asks for searches
// (merged over every shard), exact dense scores of given documents and the stored vectors of given documents,
// and turns the answers into the final ranking. Whoever executes the operations (the coordinator over the
// wire, `aftershock search` over a LocalIndex) runs the same steps on the same global lists, so results do not
// depend on where or over how many shards they run.
#include "aftershock/common/pipeline/feedback.hpp"

#include <optional>
#include <string_view>

namespace aftershock::pipeline {

/// Two-stage: the sparse route retrieves `depth` candidates, exact dense scores are interpolated in.
struct RerankParams {
    std::uint32_t depth = 200;
    double weight = 0.5;  ///< of the dense score
    Normalization normalization = Normalization::minmax;
};

/// Where sparse and dense scores are interpolated relative to the feedback round (Li et al., SIGIR 2022).
/// none: a single-route query. before: feedback documents from the interpolated first round, the answer is the
/// PRF route's second round. after: each route takes feedback from its own first round, the second rounds are
/// interpolated. both: feedback from the interpolated first round and the second rounds interpolated.
enum class Interpolation { none, before, after, both };
[[nodiscard]] std::string_view to_string(Interpolation i) noexcept;
/// Throws UsageError naming the value.
[[nodiscard]] Interpolation parse_interpolation(std::string_view s);

struct PrfParams {
    std::uint32_t docs = 3;      ///< m: feedback documents (global top-m)
    std::uint32_t depth = 100;   ///< per-route list depth of each round (at least k)
    bool sparse = false;         ///< sparse PRF on
    std::uint32_t terms = 10;    ///< t: expansion terms
    double sparse_alpha = 0.5;
    double sparse_beta = 0.5;
    bool dense = false;          ///< dense Vector-PRF on
    double dense_alpha = 1.0;
    double dense_beta = 1.0;
    Interpolation interpolation = Interpolation::none;
    double weight = 0.5;         ///< of the dense score when interpolating
    Normalization normalization = Normalization::minmax;
};

struct PipelineQuery {
    std::uint32_t k = 10;
    std::optional<SparseVector> sparse;
    std::optional<std::vector<float>> dense;
    std::optional<RerankParams> rerank;
    std::optional<PrfParams> prf;
};

/// Throws UsageError naming the parameter (e.g. "prf.interpolate") when the combination is not meaningful.
void validate(const PipelineQuery& q);

enum class OpKind { search_sparse, search_dense, score_dense, fetch_sparse, fetch_dense };

/// One global operation. search_*: the merged top-k over every shard for `sparse` / `dense`; score_dense: exact
/// dense scores of `docs` against `dense`; fetch_*: the stored vectors of `docs`.
struct Op {
    OpKind kind = OpKind::search_sparse;
    SparseVector sparse;
    std::vector<float> dense;
    std::uint32_t k = 0;
    std::vector<std::uint64_t> docs;
};

/// The answer to an Op. search: `hits` best first. score_dense: `hits` = (doc, score) for the documents that
/// could be scored. fetch: `docs` that were fetched with their rows (docs whose shard failed are missing).
struct OpResult {
    std::vector<GlobalHit> hits;
    std::vector<std::uint64_t> docs;
    std::vector<SparseVector> sparse_rows;
    std::vector<std::vector<float>> dense_rows;
};

class Pipeline {
public:
    /// Validates the query (UsageError). A query without rerank and prf is not a pipeline.
    explicit Pipeline(PipelineQuery q);
    /// The operations of the next step (independent of each other: run them concurrently); empty when done.
    [[nodiscard]] const std::vector<Op>& next() const noexcept { return m_ops; }
    /// Answers to next(), in the same order.
    void feed(std::vector<OpResult> results);
    [[nodiscard]] bool done() const noexcept { return m_ops.empty(); }
    /// The final top-k (valid once done()).
    [[nodiscard]] const std::vector<GlobalHit>& result() const noexcept { return m_result; }
    /// Number of steps fed so far (1: first round, 2: scores or feedback vectors, 3: second round).
    [[nodiscard]] int step() const noexcept { return m_step; }

private:
    void plan_feedback();
    void plan_second_round(std::vector<OpResult>& fetched);
    void finish_prf(std::vector<OpResult>& second);

    PipelineQuery m_q;
    int m_step = 0;
    std::vector<Op> m_ops;
    std::vector<GlobalHit> m_first_sparse;
    std::vector<GlobalHit> m_first_dense;
    std::vector<GlobalHit> m_result;
};

}  // namespace aftershock::pipeline
