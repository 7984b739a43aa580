#pragma once
// `aftershock search` flags for the retrieval pipelines (issue 9) and the local run of every query through
// common/pipeline — the code the coordinator runs, so HTTP and local answers are identical.
#include "aftershock/common/index_dir.hpp"
#include "aftershock/common/pipeline/pipeline.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aftershock::cli {

struct PipelineFlags {
    std::uint32_t rerank_depth = 0;  ///< 0 = no rerank
    double rerank_weight = 0.5;
    std::string rerank_normalization = "minmax";
    bool prf_sparse = false;
    bool prf_dense = false;
    pipeline::PrfParams prf;
    std::string prf_interpolate;  ///< empty: none for one route, after for sparse+dense
    std::string prf_normalization = "minmax";
    [[nodiscard]] bool active() const noexcept { return rerank_depth > 0 || prf_sparse || prf_dense; }
};

/// --rerank-* and --prf-* flags (shared by `search` and `load`, so tests pass the same flags to both).
void add_pipeline_flags(CLI::App& sub, const std::shared_ptr<PipelineFlags>& flags);
/// The request fields for the flags: {"rerank":{...}} and/or {"prf":{...}}, all parameters explicit.
[[nodiscard]] nlohmann::json pipeline_json(const PipelineFlags& flags);

/// Runs every query (row q of `sparse` and/or `dense`, either may be null) through the pipeline on `threads`
/// threads; latencies_us gets one entry per query. Throws UsageError for a bad flag combination.
[[nodiscard]] std::vector<std::vector<GlobalHit>> run_pipeline_queries(const LocalIndex& index, const CsrMatrix* sparse,
                                                                       const DenseMatrix* dense, std::uint32_t k,
                                                                       const PipelineFlags& flags,
                                                                       const seismic::SearchParams& sparse_params,
                                                                       const dense::SearchParams& dense_params, bool exact,
                                                                       unsigned threads, std::vector<double>& latencies_us);

}  // namespace aftershock::cli
