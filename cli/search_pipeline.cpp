#include "search_pipeline.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/parallel.hpp"
#include "aftershock/common/pipeline/shard_rows.hpp"

#include <chrono>

namespace aftershock::cli {

void add_pipeline_flags(CLI::App& sub, const std::shared_ptr<PipelineFlags>& f) {
    sub.add_option("--rerank-depth", f->rerank_depth, "rerank: sparse candidates scored with the stored dense vectors (0 = off)")
        ->capture_default_str();
    sub.add_option("--rerank-weight", f->rerank_weight, "rerank: weight of the dense score")->capture_default_str();
    sub.add_option("--rerank-normalization", f->rerank_normalization, "rerank: none | minmax | zscore")->capture_default_str();
    sub.add_flag("--prf-sparse", f->prf_sparse, "PRF: expand the sparse query with the feedback documents' top terms");
    sub.add_flag("--prf-dense", f->prf_dense, "PRF: Vector-PRF on the dense query");
    sub.add_option("--prf-docs", f->prf.docs, "PRF: feedback documents m (global top-m)")->capture_default_str();
    sub.add_option("--prf-depth", f->prf.depth, "PRF: list depth per route and round")->capture_default_str();
    sub.add_option("--prf-terms", f->prf.terms, "sparse PRF: expansion terms t")->capture_default_str();
    sub.add_option("--prf-sparse-alpha", f->prf.sparse_alpha, "sparse PRF: weight of the L1-normalised query")->capture_default_str();
    sub.add_option("--prf-sparse-beta", f->prf.sparse_beta, "sparse PRF: weight of the L1-normalised expansion")->capture_default_str();
    sub.add_option("--prf-dense-alpha", f->prf.dense_alpha, "Vector-PRF: alpha (query)")->capture_default_str();
    sub.add_option("--prf-dense-beta", f->prf.dense_beta, "Vector-PRF: beta (mean of the feedback vectors)")->capture_default_str();
    sub.add_option("--prf-interpolate", f->prf_interpolate, "PRF: none | before | after | both (default: none for one route, after for hybrid)");
    sub.add_option("--prf-weight", f->prf.weight, "PRF: weight of the dense score when interpolating")->capture_default_str();
    sub.add_option("--prf-normalization", f->prf_normalization, "PRF: none | minmax | zscore")->capture_default_str();
}

nlohmann::json pipeline_json(const PipelineFlags& f) {
    nlohmann::json b = nlohmann::json::object();
    if (f.rerank_depth > 0) {
        b["rerank"] = {{"depth", f.rerank_depth}, {"weight", f.rerank_weight}, {"normalization", f.rerank_normalization}};
    }
    if (f.prf_sparse || f.prf_dense) {
        nlohmann::json p = {{"docs", f.prf.docs}, {"depth", f.prf.depth}, {"weight", f.prf.weight}, {"normalization", f.prf_normalization}};
        if (!f.prf_interpolate.empty()) p["interpolate"] = f.prf_interpolate;
        if (f.prf_sparse) p["sparse"] = {{"terms", f.prf.terms}, {"alpha", f.prf.sparse_alpha}, {"beta", f.prf.sparse_beta}};
        if (f.prf_dense) p["dense"] = {{"alpha", f.prf.dense_alpha}, {"beta", f.prf.dense_beta}};
        b["prf"] = std::move(p);
    }
    return b;
}

std::vector<std::vector<GlobalHit>> run_pipeline_queries(const LocalIndex& index, const CsrMatrix* sparse, const DenseMatrix* dense,
                                                         std::uint32_t k, const PipelineFlags& f,
                                                         const seismic::SearchParams& sparse_params,
                                                         const dense::SearchParams& dense_params, bool exact, unsigned threads,
                                                         std::vector<double>& latencies_us) {
    pipeline::PipelineQuery base;
    base.k = k;
    if (f.rerank_depth > 0) base.rerank = pipeline::RerankParams{f.rerank_depth, f.rerank_weight, parse_normalization(f.rerank_normalization)};
    if (f.prf_sparse || f.prf_dense) {
        auto p = f.prf;
        p.sparse = f.prf_sparse;
        p.dense = f.prf_dense;
        p.normalization = parse_normalization(f.prf_normalization);
        p.interpolation = !f.prf_interpolate.empty() ? pipeline::parse_interpolation(f.prf_interpolate)
                          : sparse != nullptr && dense != nullptr ? pipeline::Interpolation::after
                                                                  : pipeline::Interpolation::none;
        base.prf = p;
    }
    const auto nq = sparse != nullptr ? sparse->n_rows() : dense->n;
    // ensure() evaluates its message arguments too: dense->n only where dense is there (UBSan: null member access).
    if (sparse != nullptr && dense != nullptr) {
        ensure<InputError>(dense->n == nq, "{} sparse but {} dense queries", nq, dense->n);
    }
    {
        // Flag combinations are checked once, up front, with the query parts the run will have.
        auto probe = base;
        if (sparse != nullptr) probe.sparse = pipeline::SparseVector{};
        if (dense != nullptr) probe.dense = std::vector<float>{};
        pipeline::validate(probe);
        ensure<UsageError>(probe.rerank || probe.prf, "no pipeline requested");
    }
    std::vector<std::vector<GlobalHit>> out(nq);
    latencies_us.assign(nq, 0.0);
    parallel_for(nq, threads, 1, [&](unsigned, std::size_t begin, std::size_t end) {
        for (auto q = begin; q < end; ++q) {
            auto pq = base;
            if (sparse != nullptr) {
                const auto row = sparse->row(q);
                pq.sparse = pipeline::SparseVector{{row.indices.begin(), row.indices.end()}, {row.values.begin(), row.values.end()}};
            }
            if (dense != nullptr) {
                const auto row = dense->row(q);
                pq.dense = std::vector<float>(row.begin(), row.end());
            }
            const auto start = std::chrono::steady_clock::now();
            out[q] = pipeline::run_local(index, std::move(pq), sparse_params, dense_params, exact);
            latencies_us[q] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
        }
    });
    return out;
}

}  // namespace aftershock::cli
