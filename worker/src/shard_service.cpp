#include "aftershock/worker/shard_service.hpp"

#include "aftershock/common/pipeline/shard_rows.hpp"


#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

namespace aftershock::worker {

namespace {

using wire::ErrorCode;

void check_sparse_query(const wire::WireQuery& q, std::uint64_t dim, std::size_t qi) {
    for (std::size_t i = 0; i < q.indices.size(); ++i) {
        if (q.indices[i] >= dim) {
            throw RequestError(ErrorCode::bad_request, fmt::format("query {}: index {} is out of range (dim {})", qi,
                                                                   q.indices[i], dim));
        }
        if (i > 0 && q.indices[i] <= q.indices[i - 1]) {
            throw RequestError(ErrorCode::bad_request,
                               fmt::format("query {}: indices must be strictly ascending (position {})", qi, i));
        }
        if (!std::isfinite(q.values[i])) {
            throw RequestError(ErrorCode::bad_request, fmt::format("query {}: value at position {} is not finite", qi, i));
        }
    }
}

/// Search parameters after the request's knobs: their check (seismic::validate or dense::validate) fails the request
/// with bad_request, not the worker.
template <typename Params>
void validate_request_params(const Params& p) {
    try {
        validate(p);
    } catch (const UsageError& e) {
        throw RequestError(ErrorCode::bad_request, e.what());
    }
}

}  // namespace

ShardService ShardService::open(const std::string& dir, const std::vector<std::uint32_t>& shards, SearchDefaults defaults,
                                ServiceLimits limits, DenseStoreMode dense_store) {
    ShardService s;
    s.m_manifest = read_manifest(dir);
    s.m_defaults = defaults;
    s.m_limits = limits;
    validate(defaults.sparse);
    for (const auto& r : s.m_manifest.shards) {
        if (!shards.empty() && std::find(shards.begin(), shards.end(), r.shard) == shards.end()) continue;
        s.m_shards.emplace(r.shard, load_verified_shard(dir, r, dense_store));
    }
    for (auto id : shards) {
        ensure<UsageError>(s.m_shards.count(id) == 1, "{}: shard {} is not in the index (it has {} shards)", dir, id,
                           s.m_manifest.n_shards);
    }
    spdlog::info("serving {} of {} shards of {} (dense store: {})", s.m_shards.size(), s.m_manifest.n_shards, dir,
                 to_string(dense_store));
    return s;
}

const Shard& ShardService::shard(std::uint32_t id) const {
    const auto it = m_shards.find(id);
    if (it == m_shards.end()) throw RequestError(ErrorCode::unknown_shard, fmt::format("shard {} is not served here", id));
    return it->second;
}

wire::SearchResponse ShardService::search(const wire::SearchRequest& req) const {
    const auto start = std::chrono::steady_clock::now();
    const auto& sh = shard(req.shard);
    if (req.k == 0 || req.k > m_limits.max_k) {
        throw RequestError(ErrorCode::bad_request, fmt::format("k = {} must be in 1..{}", req.k, m_limits.max_k));
    }
    if (req.queries.size() > m_limits.max_queries) {
        throw RequestError(ErrorCode::bad_request, fmt::format("{} queries in one request; the limit is {}",
                                                               req.queries.size(), m_limits.max_queries));
    }
    wire::SearchResponse resp;
    resp.shard = req.shard;
    resp.results.resize(req.queries.size());
    resp.ids.resize(req.queries.size());
    if (req.route == wire::Route::dense) {
        search_dense(sh, req, resp);
    } else {
        search_sparse(sh, req, resp);
    }
    resp.search_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
    return resp;
}

void ShardService::search_sparse(const Shard& sh, const wire::SearchRequest& req, wire::SearchResponse& resp) const {
    if (!sh.sparse) throw RequestError(ErrorCode::unsupported, fmt::format("shard {} has no sparse index", req.shard));
    seismic::SearchParams p = m_defaults.sparse;
    p.k = req.k;
    const auto& knobs = req.knobs;  // each one given overrides the worker's default (knn 0: no kNN refinement)
    p.query_cut = knobs.query_cut.value_or(p.query_cut);
    p.heap_factor = knobs.heap_factor.value_or(p.heap_factor);
    p.knn = knobs.knn.value_or(p.knn);
    p.first_sorted = knobs.first_sorted.value_or(p.first_sorted);
    validate_request_params(p);
    for (std::size_t qi = 0; qi < req.queries.size(); ++qi) check_sparse_query(req.queries[qi], sh.sparse->dim(), qi);
    thread_local seismic::SearchScratch scratch;
    for (std::size_t qi = 0; qi < req.queries.size(); ++qi) {
        const auto& q = req.queries[qi];
        const SparseView view{q.indices, q.values};
        seismic::SearchStats st;
        const auto hits = req.exact ? sh.sparse->search_exact(view, p.k, scratch, &st)
                                    : sh.sparse->search(view, p, scratch, &st);
        resp.work.postings += st.postings;
        resp.work.blocks += st.blocks_evaluated;
        resp.work.docs_scored += st.docs_scored;
        for (const auto& h : hits) {
            resp.results[qi].push_back({sh.meta.doc_begin + h.doc, h.score});
            resp.ids[qi].push_back(sh.ids[h.doc]);
        }
    }
}

void ShardService::search_dense(const Shard& sh, const wire::SearchRequest& req, wire::SearchResponse& resp) const {
    if (!sh.dense) throw RequestError(ErrorCode::unsupported, fmt::format("shard {} has no dense part", req.shard));
    const auto d = sh.dense->vectors.d;
    for (std::size_t qi = 0; qi < req.queries.size(); ++qi) {
        const auto& q = req.queries[qi].dense;
        if (q.size() != d) {
            throw RequestError(ErrorCode::bad_request, fmt::format("query {}: dense dimension {} does not match the shard's {}", qi, q.size(), d));
        }
        for (std::size_t i = 0; i < q.size(); ++i) {
            if (!std::isfinite(q[i])) throw RequestError(ErrorCode::bad_request, fmt::format("query {}: dense[{}] is not finite", qi, i));
        }
    }
    dense::SearchParams p;
    p.k = req.k;
    p.ef_search = req.knobs.ef_search.value_or(m_defaults.ef_search);
    p.nprobe = req.knobs.nprobe.value_or(m_defaults.nprobe);
    validate_request_params(p);
    // Same per-query calls as LocalIndex::search_dense with latencies (aftershock search), so answers match.
    const bool exact = req.exact || serves_dense_exactly(*sh.dense);
    for (std::size_t qi = 0; qi < req.queries.size(); ++qi) {
        const std::span<const float> q(req.queries[qi].dense);
        const auto hits = exact ? dense_exact(sh).search(q, p.k) : sh.dense->index->search_one(q, p);
        resp.work.docs_scored += exact ? sh.dense->vectors.n : 0;
        for (const auto& h : hits) {
            resp.results[qi].push_back({sh.meta.doc_begin + h.doc, h.score});
            resp.ids[qi].push_back(sh.ids[h.doc]);
        }
    }
}

const DenseExactIndex& ShardService::dense_exact(const Shard& sh) const {
    if (sh.dense->disk) {
        throw RequestError(ErrorCode::unsupported, fmt::format("shard {}: exact dense search needs the vectors in memory "
                                                               "(this worker keeps them on disk: use rerank, or --dense-store memory)",
                                                               sh.meta.shard));
    }
    const std::lock_guard lock(*m_dense_exact_mutex);
    auto& slot = m_dense_exact[sh.meta.shard];
    if (!slot) slot = std::make_unique<DenseExactIndex>(sh.dense->vectors);
    return *slot;
}

std::vector<std::size_t> ShardService::local_rows(const Shard& sh, const std::vector<std::uint64_t>& docs) const {
    if (docs.size() > m_limits.max_docs) {
        throw RequestError(ErrorCode::bad_request, fmt::format("{} documents in one request; the limit is {}", docs.size(), m_limits.max_docs));
    }
    std::vector<std::size_t> rows;
    rows.reserve(docs.size());
    for (auto d : docs) {
        if (d < sh.meta.doc_begin || d >= sh.meta.doc_end) {
            throw RequestError(ErrorCode::bad_request, fmt::format("document {} is not in shard {} [{}, {})", d, sh.meta.shard,
                                                                   sh.meta.doc_begin, sh.meta.doc_end));
        }
        rows.push_back(static_cast<std::size_t>(d - sh.meta.doc_begin));
    }
    return rows;
}

wire::ScoreResponse ShardService::score(const wire::ScoreRequest& req) const {
    const auto start = std::chrono::steady_clock::now();
    const auto& sh = shard(req.shard);
    if (!sh.dense) throw RequestError(ErrorCode::unsupported, fmt::format("shard {} has no dense part", req.shard));
    if (req.dense.size() != sh.dense->vectors.d) {
        throw RequestError(ErrorCode::bad_request, fmt::format("dense dimension {} does not match the shard's {}", req.dense.size(),
                                                               sh.dense->vectors.d));
    }
    for (std::size_t i = 0; i < req.dense.size(); ++i) {
        if (!std::isfinite(req.dense[i])) throw RequestError(ErrorCode::bad_request, fmt::format("dense[{}] is not finite", i));
    }
    wire::ScoreResponse resp;
    resp.shard = req.shard;
    for (auto row : local_rows(sh, req.docs)) resp.scores.push_back(pipeline::score_row(sh, req.dense, row));
    resp.search_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
    return resp;
}

wire::FetchResponse ShardService::fetch(const wire::FetchRequest& req) const {
    const auto start = std::chrono::steady_clock::now();
    const auto& sh = shard(req.shard);
    const bool sparse = req.kind == wire::FetchKind::sparse;
    if (sparse ? !sh.sparse : !sh.dense) {
        throw RequestError(ErrorCode::unsupported, fmt::format("shard {} has no {} part", req.shard, sparse ? "sparse" : "dense"));
    }
    wire::FetchResponse resp;
    resp.shard = req.shard;
    resp.kind = req.kind;
    for (auto row : local_rows(sh, req.docs)) {
        wire::WireQuery r;
        if (sparse) {
            auto v = pipeline::sparse_row(sh, row);
            r.indices = std::move(v.indices);
            r.values = std::move(v.values);
        } else {
            r.dense = dense_row(*sh.dense, row);
        }
        resp.rows.push_back(std::move(r));
    }
    resp.search_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
    return resp;
}

std::string ShardService::info_json() const {
    nlohmann::json j;
    j["n_shards"] = m_manifest.n_shards;
    j["n_docs"] = m_manifest.n_docs;
    j["corpus_checksum"] = m_manifest.corpus_checksum;
    j["shards"] = nlohmann::json::array();
    for (const auto& [id, sh] : m_shards) {
        nlohmann::json s;
        s["shard"] = id;
        s["doc_begin"] = sh.meta.doc_begin;
        s["doc_end"] = sh.meta.doc_end;
        s["sparse"] = sh.sparse.has_value();
        s["dim"] = sh.sparse ? sh.sparse->dim() : 0;
        s["dense"] = sh.dense.has_value();
        s["dense_dim"] = sh.dense ? sh.dense->vectors.d : 0;
        s["metric"] = sh.dense ? std::string(to_string(sh.dense->vectors.metric)) : std::string();
        s["dense_store"] = sh.dense ? std::string(to_string(sh.dense->disk ? DenseStoreMode::disk : DenseStoreMode::memory)) : std::string();
        s["dense_index"] = sh.dense ? std::string(dense::to_string(sh.dense->params.type)) : std::string();
        s["checksum"] = sh.checksum;
        j["shards"].push_back(std::move(s));
    }
    return j.dump();
}

std::vector<std::uint32_t> parse_shard_list(const std::string& text) {
    std::vector<std::uint32_t> out;
    if (text.empty() || text == "all") return out;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const auto comma = text.find(',', pos);
        const auto item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        const auto dash = item.find('-');
        try {
            std::size_t used = 0;
            if (dash == std::string::npos) {
                const auto v = std::stoul(item, &used);
                ensure<UsageError>(used == item.size(), "");
                out.push_back(static_cast<std::uint32_t>(v));
            } else {
                const auto a = std::stoul(item.substr(0, dash), &used);
                ensure<UsageError>(used == dash, "");
                const auto b = std::stoul(item.substr(dash + 1), &used);
                ensure<UsageError>(used == item.size() - dash - 1 && a <= b && b - a < 1000000, "");
                for (auto v = a; v <= b; ++v) out.push_back(static_cast<std::uint32_t>(v));
            }
        } catch (const std::exception&) {
            throw UsageError("bad shard list '" + text + "' (expected e.g. 0,1,5 or 0-3 or all)");
        }
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

}  // namespace aftershock::worker
