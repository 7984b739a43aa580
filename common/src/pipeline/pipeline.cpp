#include "aftershock/common/pipeline/pipeline.hpp"

#include "aftershock/common/error.hpp"

#include <algorithm>
#include <cmath>

namespace aftershock::pipeline {

std::string_view to_string(Interpolation i) noexcept {
    switch (i) {
    case Interpolation::none: return "none";
    case Interpolation::before: return "before";
    case Interpolation::after: return "after";
    case Interpolation::both: return "both";
    }
    return "none";
}

Interpolation parse_interpolation(std::string_view s) {
    for (auto i : {Interpolation::none, Interpolation::before, Interpolation::after, Interpolation::both}) {
        if (s == to_string(i)) return i;
    }
    throw UsageError(fmt::format("unknown interpolation '{}' (expected none, before, after or both)", s));
}

namespace {

void check_weight(double w, const char* field) {
    ensure<UsageError>(std::isfinite(w) && w >= 0.0 && w <= 1.0, "{}: {} must be in [0, 1]", field, w);
}

void check_finite(double v, const char* field) { ensure<UsageError>(std::isfinite(v), "{}: must be finite", field); }

std::vector<GlobalHit> head(std::span<const GlobalHit> list, std::size_t k) {
    return {list.begin(), list.begin() + static_cast<std::ptrdiff_t>(std::min(k, list.size()))};
}

std::vector<std::uint64_t> docs_of(std::span<const GlobalHit> list, std::size_t n) {
    std::vector<std::uint64_t> out;
    for (std::size_t i = 0; i < list.size() && i < n; ++i) out.push_back(list[i].doc);
    return out;
}

}  // namespace

void validate(const PipelineQuery& q) {
    ensure<UsageError>(q.k >= 1, "k: must be at least 1");
    ensure<UsageError>(!(q.rerank && q.prf), "rerank: cannot be combined with prf in one request");
    if (q.rerank) {
        ensure<UsageError>(q.sparse && q.dense, "rerank: needs a sparse query (candidates) and a dense query (scores)");
        ensure<UsageError>(q.rerank->depth >= 1, "rerank.depth: must be at least 1");
        check_weight(q.rerank->weight, "rerank.weight");
    }
    if (q.prf) {
        const auto& p = *q.prf;
        ensure<UsageError>(p.sparse || p.dense, "prf: give prf.sparse and/or prf.dense");
        ensure<UsageError>(!p.sparse || q.sparse, "prf.sparse: the query has no sparse part");
        ensure<UsageError>(!p.dense || q.dense, "prf.dense: the query has no dense part");
        ensure<UsageError>(p.docs >= 1, "prf.docs: must be at least 1");
        ensure<UsageError>(p.depth >= 1, "prf.depth: must be at least 1");
        ensure<UsageError>(!p.sparse || p.terms >= 1, "prf.sparse.terms: must be at least 1");
        check_finite(p.sparse_alpha, "prf.sparse.alpha");
        check_finite(p.sparse_beta, "prf.sparse.beta");
        check_finite(p.dense_alpha, "prf.dense.alpha");
        check_finite(p.dense_beta, "prf.dense.beta");
        check_weight(p.weight, "prf.weight");
        const bool hybrid = q.sparse && q.dense;
        if (!hybrid) {
            ensure<UsageError>(p.interpolation == Interpolation::none,
                               "prf.interpolate: '{}' needs a sparse and a dense query", to_string(p.interpolation));
        } else {
            ensure<UsageError>(p.interpolation != Interpolation::none,
                               "prf.interpolate: a sparse+dense query needs before, after or both");
            ensure<UsageError>(p.interpolation != Interpolation::before || p.sparse != p.dense,
                               "prf.interpolate: 'before' needs exactly one of prf.sparse and prf.dense (its second round is the answer)");
        }
    }
}

Pipeline::Pipeline(PipelineQuery q) : m_q(std::move(q)) {
    validate(m_q);
    ensure<UsageError>(m_q.rerank || m_q.prf, "a pipeline query needs rerank or prf");
    if (m_q.rerank) {
        m_ops.push_back({OpKind::search_sparse, *m_q.sparse, {}, std::max(m_q.rerank->depth, m_q.k), {}});
        return;
    }
    const auto depth = std::max({m_q.prf->depth, m_q.k, m_q.prf->docs});
    if (m_q.sparse) m_ops.push_back({OpKind::search_sparse, *m_q.sparse, {}, depth, {}});
    if (m_q.dense) m_ops.push_back({OpKind::search_dense, {}, *m_q.dense, depth, {}});
}

void Pipeline::feed(std::vector<OpResult> results) {
    ensure(results.size() == m_ops.size(), "pipeline: {} results for {} operations", results.size(), m_ops.size());
    m_ops.clear();
    ++m_step;
    if (m_q.rerank) {
        if (m_step == 1) {
            m_first_sparse = std::move(results[0].hits);
            if (m_first_sparse.empty()) return;  // no candidate: nothing to score
            m_ops.push_back({OpKind::score_dense, {}, *m_q.dense, 0, docs_of(m_first_sparse, m_first_sparse.size())});
        } else {
            m_result = rerank(m_first_sparse, results[0].hits, m_q.rerank->weight, m_q.rerank->normalization, m_q.k);
        }
        return;
    }
    if (m_step == 1) {
        std::size_t i = 0;
        if (m_q.sparse) m_first_sparse = std::move(results[i++].hits);
        if (m_q.dense) m_first_dense = std::move(results[i].hits);
        plan_feedback();
    } else if (m_step == 2) {
        plan_second_round(results);
    } else {
        finish_prf(results);
    }
}

void Pipeline::plan_feedback() {
    const auto& p = *m_q.prf;
    std::vector<std::uint64_t> fb_sparse = docs_of(m_first_sparse, p.docs);
    std::vector<std::uint64_t> fb_dense = docs_of(m_first_dense, p.docs);
    if (p.interpolation == Interpolation::before || p.interpolation == Interpolation::both) {
        // One feedback set for both routes: the interpolated first round's global top-m.
        const auto fused = interpolate(m_first_sparse, m_first_dense, p.weight, p.normalization, p.docs);
        fb_sparse = docs_of(fused, p.docs);
        fb_dense = fb_sparse;
    }
    if (p.sparse) m_ops.push_back({OpKind::fetch_sparse, {}, {}, 0, std::move(fb_sparse)});
    if (p.dense) m_ops.push_back({OpKind::fetch_dense, {}, {}, 0, std::move(fb_dense)});
}

void Pipeline::plan_second_round(std::vector<OpResult>& fetched) {
    const auto& p = *m_q.prf;
    const auto depth = std::max({p.depth, m_q.k, p.docs});
    std::size_t i = 0;
    if (p.sparse) {
        auto expanded = sparse_prf(*m_q.sparse, fetched[i++].sparse_rows, p.terms, p.sparse_alpha, p.sparse_beta);
        m_ops.push_back({OpKind::search_sparse, std::move(expanded), {}, depth, {}});
    }
    if (p.dense) {
        auto moved = vector_prf(*m_q.dense, fetched[i].dense_rows, p.dense_alpha, p.dense_beta);
        m_ops.push_back({OpKind::search_dense, {}, std::move(moved), depth, {}});
    }
}

void Pipeline::finish_prf(std::vector<OpResult>& second) {
    const auto& p = *m_q.prf;
    std::size_t i = 0;
    auto sparse = p.sparse ? std::move(second[i++].hits) : m_first_sparse;
    auto dense = p.dense ? std::move(second[i].hits) : m_first_dense;
    switch (p.interpolation) {
    case Interpolation::none: m_result = head(m_q.sparse ? sparse : dense, m_q.k); break;
    case Interpolation::before: m_result = head(p.sparse ? sparse : dense, m_q.k); break;
    case Interpolation::after:
    case Interpolation::both: m_result = interpolate(sparse, dense, p.weight, p.normalization, m_q.k); break;
    }
}

}  // namespace aftershock::pipeline
