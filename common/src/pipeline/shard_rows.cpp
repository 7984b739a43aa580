#include "aftershock/common/pipeline/shard_rows.hpp"

#include "aftershock/common/error.hpp"

#include <algorithm>

namespace aftershock::pipeline {

SparseVector sparse_row(const Shard& shard, std::size_t row) {
    ensure<InputError>(shard.sparse.has_value(), "shard {} has no sparse part", shard.meta.shard);
    const auto& f = shard.sparse->forward();
    ensure<InputError>(row < f.n_docs(), "shard {}: row {} out of range", shard.meta.shard, row);
    SparseVector v;
    std::vector<std::pair<std::uint32_t, float>> terms;
    f.row_by_term(row, terms);  // PRF wants ascending terms; the forward index keeps a document heaviest first
    for (const auto& [t, w] : terms) {
        v.indices.push_back(t);
        v.values.push_back(w);
    }
    return v;
}

float score_row(const Shard& shard, std::span<const float> query, std::size_t row) {
    ensure<InputError>(shard.dense.has_value(), "shard {} has no dense part", shard.meta.shard);
    const auto& v = shard.dense->vectors;
    ensure<InputError>(query.size() == v.d, "dense query of dimension {} for vectors of dimension {}", query.size(), v.d);
    const auto doc = dense_row(*shard.dense, row);
    return dense_score(v.metric, query, doc);
}

namespace {

/// The shard owning global document `doc` and its local row. Throws InputError for a doc past the index.
std::pair<const Shard*, std::size_t> owner(const LocalIndex& index, std::uint64_t doc) {
    const auto& shards = index.shards();
    const auto it = std::upper_bound(shards.begin(), shards.end(), doc,
                                     [](std::uint64_t d, const Shard& s) { return d < s.meta.doc_begin; });
    ensure<InputError>(it != shards.begin() && doc < std::prev(it)->meta.doc_end, "document {} is not in the index", doc);
    const auto& s = *std::prev(it);
    return {&s, doc - s.meta.doc_begin};
}

/// Exact sparse top-k over every shard's forward index, merged: what workers answer to exact requests.
std::vector<GlobalHit> sparse_exact(const LocalIndex& index, const SparseVector& q, std::size_t k) {
    thread_local seismic::SearchScratch scratch;
    std::vector<std::vector<GlobalHit>> lists;
    for (const auto& s : index.shards()) {
        ensure<InputError>(s.sparse.has_value(), "shard {} has no sparse index", s.meta.shard);
        lists.emplace_back();
        for (const auto& h : s.sparse->search_exact(SparseView{q.indices, q.values}, k, scratch, nullptr)) {
            lists.back().push_back({s.meta.doc_begin + h.doc, h.score});
        }
    }
    return merge_topk(lists, k);
}

OpResult run_op(const LocalIndex& index, const Op& op, const seismic::SearchParams& sparse, const dense::SearchParams& dense,
                bool exact) {
    OpResult r;
    std::vector<double> latencies;  // asks LocalIndex for its per-query path, the one the workers run
    switch (op.kind) {
    case OpKind::search_sparse: {
        if (exact) {
            r.hits = sparse_exact(index, op.sparse, op.k);
            break;
        }
        CsrMatrix q;
        q.dim = index.manifest().dim;
        q.append_row(op.sparse.indices, op.sparse.values);
        auto p = sparse;
        p.k = op.k;
        r.hits = std::move(index.search_sparse(q, p, 1, &latencies)[0]);
        break;
    }
    case OpKind::search_dense: {
        DenseMatrix q;
        q.n = 1;
        q.d = op.dense.size();
        q.data = op.dense;
        auto p = dense;
        p.k = op.k;
        r.hits = std::move((exact ? index.search_dense_exact(q, op.k, 1, &latencies) : index.search_dense(q, p, 1, &latencies))[0]);
        break;
    }
    case OpKind::score_dense:
        for (auto doc : op.docs) {
            const auto [s, row] = owner(index, doc);
            r.hits.push_back({doc, score_row(*s, op.dense, row)});
        }
        break;
    case OpKind::fetch_sparse:
        for (auto doc : op.docs) {
            const auto [s, row] = owner(index, doc);
            r.docs.push_back(doc);
            r.sparse_rows.push_back(sparse_row(*s, row));
        }
        break;
    case OpKind::fetch_dense:
        for (auto doc : op.docs) {
            const auto [s, row] = owner(index, doc);
            ensure<InputError>(s->dense.has_value(), "shard {} has no dense part", s->meta.shard);
            r.docs.push_back(doc);
            r.dense_rows.push_back(dense_row(*s->dense, row));
        }
        break;
    }
    return r;
}

}  // namespace

std::vector<GlobalHit> run_local(const LocalIndex& index, PipelineQuery query, const seismic::SearchParams& sparse,
                                 const dense::SearchParams& dense, bool exact) {
    Pipeline p(std::move(query));
    while (!p.done()) {
        std::vector<OpResult> results;
        for (const auto& op : p.next()) results.push_back(run_op(index, op, sparse, dense, exact));
        p.feed(std::move(results));
    }
    return p.result();
}

}  // namespace aftershock::pipeline
