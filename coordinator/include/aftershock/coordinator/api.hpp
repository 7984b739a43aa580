#pragma once
// The HTTP API's request model (DESIGN.md §7): parsing and validation of /v1/search bodies into a SearchQuery,
// and the error shape every 4xx/5xx carries. Pure functions over JSON text, so they are unit-tested and fuzzed
// without a server.
#include "aftershock/common/error.hpp"
#include "aftershock/common/fusion.hpp"
#include "aftershock/common/pipeline/pipeline.hpp"
#include "aftershock/common/text/query_encoder.hpp"
#include "aftershock/common/wire/protocol.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aftershock::coordinator {

/// A request the API refuses: HTTP status, a stable machine-readable code and a message naming the field.
class ApiError : public Error {
public:
    ApiError(int status, std::string code, const std::string& message)
        : Error(message), m_status(status), m_code(std::move(code)) {}
    [[nodiscard]] int status() const noexcept { return m_status; }
    [[nodiscard]] const std::string& code() const noexcept { return m_code; }
    /// {"error":{"code":..,"message":..}}
    [[nodiscard]] std::string body() const;

private:
    int m_status;
    std::string m_code;
};

struct ApiLimits {
    std::uint32_t max_k = 1000;
    std::uint32_t max_candidates = 10000;
    std::size_t max_batch = 256;
    std::size_t max_sparse_terms = 4096;
    std::size_t max_json_depth = 16;
    std::uint32_t max_timeout_ms = 60'000;
};

/// What the coordinator knows about the index, to validate queries before fanning them out.
struct IndexFacts {
    std::uint64_t sparse_dim = 0;  ///< 0 = the index has no sparse part
    std::uint64_t dense_dim = 0;   ///< 0 = no dense part
};

/// Loads the vocabulary for token and text queries: an index directory (DIR/vocab.h5), a corpus (.h5 with
/// /vocab) or a BERT vocab.json / vocab.txt (tokens and bm25-mode text only: no idf). Throws InputError.
[[nodiscard]] text::QueryEncoder load_query_encoder(const std::string& path);

struct SearchQuery {
    std::uint32_t k = 10;
    bool has_sparse = false;
    std::vector<std::uint32_t> indices;  ///< ascending, unique
    std::vector<float> values;
    bool has_dense = false;
    std::vector<float> dense;
    FusionParams fusion;                ///< used when both routes are present (default RRF, 60)
    double weight_sparse = 1.0;
    double weight_dense = 1.0;
    std::uint32_t candidates = 100;     ///< per-route depth fused for hybrid queries (at least k)
    wire::SearchKnobs knobs;
    std::uint32_t timeout_ms = 0;       ///< 0 = the coordinator's default
    double min_coverage = 1.0;          ///< fraction of shards that must answer
    bool exact = false;                 ///< brute-force search on the workers (oracle; also the recall shadow)
    /// Per-shard k reduction: each shard returns only as many hits as it holds of the top-k with probability
    /// 1 - epsilon; shards that may hide more are asked again, so answers stay exact. Unset: the coordinator's.
    std::optional<double> shard_k_epsilon;
    std::optional<pipeline::RerankParams> rerank;  ///< sparse candidates, exact dense scores interpolated in
    std::optional<pipeline::PrfParams> prf;        ///< pseudo-relevance feedback
    [[nodiscard]] bool is_pipeline() const noexcept { return rerank.has_value() || prf.has_value(); }
};

/// The pipeline form of a query with rerank or prf.
[[nodiscard]] pipeline::PipelineQuery to_pipeline(const SearchQuery& q);

/// Parses one search body. Throws ApiError: 400 for malformed JSON, 422 for a bad or unknown field (naming it).
/// `encoder` (optional) turns {"tokens":{...}} and {"text":"...","text_mode":"bm25"|"idf"} into sparse queries.
[[nodiscard]] SearchQuery parse_search(std::string_view body, const ApiLimits& limits, const IndexFacts& facts,
                                       const text::QueryEncoder* encoder = nullptr);
/// Parses {"queries":[...]} into its queries (each validated as by parse_search; errors name queries[i]).
[[nodiscard]] std::vector<SearchQuery> parse_search_batch(std::string_view body, const ApiLimits& limits,
                                                          const IndexFacts& facts, const text::QueryEncoder* encoder = nullptr);

}  // namespace aftershock::coordinator
