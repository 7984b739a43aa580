// Router::search_pipeline: runs a rerank or prf query (common/pipeline) through the cluster. Each step of the
// pipeline is one fan-out: searches go to every shard and are merged exactly; scores and fetches go only to
// the shards that own the documents. The pipeline sees the same global lists as in `aftershock search`.
#include "aftershock/coordinator/router.hpp"

#include "aftershock/common/merge.hpp"

#include <algorithm>
#include <unordered_map>

namespace aftershock::coordinator {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

/// Budget left for a request sent now (at least 1 ms: 0 would mean "none" on the wire).
std::uint32_t budget_left_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<std::uint32_t>(std::max<std::int64_t>(1, left));
}

/// The shard holding global document `doc` (ranges by shard id, contiguous); n_shards when none does.
std::uint32_t owner(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges, std::uint64_t doc) {
    for (std::uint32_t s = 0; s < ranges.size(); ++s) {
        if (doc >= ranges[s].first && doc < ranges[s].second) return s;
    }
    return static_cast<std::uint32_t>(ranges.size());
}

}  // namespace

awaitable<SearchOutcome> Router::search_pipeline(const SearchQuery& q, Clock::time_point start) {
    SearchOutcome out;
    out.mode = q.rerank ? "rerank" : "prf";
    const auto n_shards = m_cluster.n_shards();
    out.shards = n_shards;
    const auto deadline = start + (q.timeout_ms > 0 ? std::chrono::milliseconds(q.timeout_ms) : m_opt.default_timeout);
    const auto ranges = m_cluster.shard_ranges();
    std::vector<bool> ok(n_shards, true);
    std::unordered_map<std::uint64_t, std::string> ids;
    bool finished = false;
    try {
        pipeline::Pipeline p(to_pipeline(q));
        while (n_shards > 0 && !p.done()) {
            const auto& ops = p.next();
            // Per call: the op it serves, its shard and, for scores and fetches, the op positions of its documents.
            struct CallMeta {
                std::size_t op = 0;
                std::uint32_t shard = 0;
                std::vector<std::size_t> positions;
            };
            std::vector<Call> calls;
            std::vector<CallMeta> meta;
            const auto budget = budget_left_ms(deadline);
            for (std::size_t o = 0; o < ops.size(); ++o) {
                const auto& op = ops[o];
                if (op.kind == pipeline::OpKind::search_sparse || op.kind == pipeline::OpKind::search_dense) {
                    const bool sparse = op.kind == pipeline::OpKind::search_sparse;
                    for (std::uint32_t s = 0; s < n_shards; ++s) {
                        wire::SearchRequest r{s, sparse ? wire::Route::sparse : wire::Route::dense, q.exact, op.k, budget, q.knobs, {}};
                        r.queries.push_back(sparse ? wire::WireQuery{op.sparse.indices, op.sparse.values, {}} : wire::WireQuery{{}, {}, op.dense});
                        calls.push_back({s, wire::MessageType::search_response, wire::encode(0, r)});
                        meta.push_back({o, s, {}});
                    }
                    continue;
                }
                std::vector<std::vector<std::size_t>> by_shard(n_shards);
                for (std::size_t j = 0; j < op.docs.size(); ++j) {
                    const auto s = owner(ranges, op.docs[j]);
                    if (s < n_shards) by_shard[s].push_back(j);
                }
                for (std::uint32_t s = 0; s < n_shards; ++s) {
                    if (by_shard[s].empty()) continue;
                    std::vector<std::uint64_t> docs;
                    for (auto j : by_shard[s]) docs.push_back(op.docs[j]);
                    if (op.kind == pipeline::OpKind::score_dense) {
                        calls.push_back({s, wire::MessageType::score_response, wire::encode(0, wire::ScoreRequest{s, budget, op.dense, std::move(docs)})});
                    } else {
                        const auto kind = op.kind == pipeline::OpKind::fetch_sparse ? wire::FetchKind::sparse : wire::FetchKind::dense;
                        calls.push_back({s, wire::MessageType::fetch_response, wire::encode(0, wire::FetchRequest{s, budget, kind, std::move(docs)})});
                    }
                    meta.push_back({o, s, std::move(by_shard[s])});
                }
            }
            auto fo = co_await fan_out(std::move(calls), deadline, q.exact);
            if (out.first_error.empty()) out.first_error = fo.first_error;
            out.unsupported = out.unsupported || fo.unsupported;
            // Assemble one result per op; positions keep the op's document order, so sums run in the same order
            // as in a local run.
            std::vector<std::vector<std::vector<GlobalHit>>> lists(ops.size());
            std::vector<std::vector<std::optional<float>>> scores(ops.size());
            std::vector<std::vector<std::optional<wire::WireQuery>>> rows(ops.size());
            for (std::size_t o = 0; o < ops.size(); ++o) {
                scores[o].resize(ops[o].docs.size());
                rows[o].resize(ops[o].docs.size());
            }
            double step_ms = 0.0;  // the step's critical path: its slowest shard's own time
            for (std::size_t c = 0; c < fo.answers.size(); ++c) {
                const auto o = meta[c].op;
                const auto shard = meta[c].shard;
                const auto& positions = meta[c].positions;
                auto& slot = fo.answers[c];
                if (!slot) {
                    ok[shard] = false;
                    continue;
                }
                std::visit([&](const auto& a) { step_ms = std::max(step_ms, static_cast<double>(a.search_ns) * 1e-6); }, *slot);
                if (auto* sr = std::get_if<wire::SearchResponse>(&*slot)) {
                    if (sr->results.empty()) continue;
                    lists[o].push_back(std::move(sr->results[0]));
                    for (std::size_t i = 0; !sr->ids.empty() && i < lists[o].back().size() && i < sr->ids[0].size(); ++i) {
                        ids.emplace(lists[o].back()[i].doc, sr->ids[0][i]);
                    }
                } else if (auto* sc = std::get_if<wire::ScoreResponse>(&*slot)) {
                    if (sc->scores.size() != positions.size()) {
                        ok[shard] = false;  // a malformed answer: its documents count as unscored
                        continue;
                    }
                    for (std::size_t i = 0; i < positions.size(); ++i) scores[o][positions[i]] = sc->scores[i];
                } else if (auto* fr = std::get_if<wire::FetchResponse>(&*slot)) {
                    if (fr->rows.size() != positions.size()) {
                        ok[shard] = false;
                        continue;
                    }
                    for (std::size_t i = 0; i < positions.size(); ++i) rows[o][positions[i]] = std::move(fr->rows[i]);
                }
            }
            out.search_ms += step_ms;
            std::vector<pipeline::OpResult> results(ops.size());
            for (std::size_t o = 0; o < ops.size(); ++o) {
                const auto& op = ops[o];
                auto& r = results[o];
                if (op.kind == pipeline::OpKind::search_sparse || op.kind == pipeline::OpKind::search_dense) {
                    r.hits = merge_topk(lists[o], op.k);
                    continue;
                }
                for (std::size_t j = 0; j < op.docs.size(); ++j) {
                    if (op.kind == pipeline::OpKind::score_dense) {
                        if (scores[o][j]) r.hits.push_back({op.docs[j], *scores[o][j]});
                    } else if (rows[o][j]) {
                        r.docs.push_back(op.docs[j]);
                        if (op.kind == pipeline::OpKind::fetch_sparse) {
                            r.sparse_rows.push_back({std::move(rows[o][j]->indices), std::move(rows[o][j]->values)});
                        } else {
                            r.dense_rows.push_back(std::move(rows[o][j]->dense));
                        }
                    }
                }
            }
            if (fo.deadline_hit) {
                out.deadline_hit = true;
                break;
            }
            p.feed(std::move(results));
        }
        if (p.done()) {
            finished = true;
            out.hits = p.result();
        }
    } catch (const std::exception& e) {
        // E.g. feedback vectors of a dimension other than the query's: a broken worker, not a bad request.
        if (out.first_error.empty()) out.first_error = fmt::format("pipeline failed: {}", e.what());
    }
    out.answered = finished ? static_cast<std::uint32_t>(std::count(ok.begin(), ok.end(), true)) : 0;
    out.ids.reserve(out.hits.size());
    for (const auto& h : out.hits) {
        const auto it = ids.find(h.doc);
        out.ids.push_back(it != ids.end() ? it->second : std::to_string(h.doc));
    }
    out.coverage_ok = n_shards > 0 && static_cast<double>(out.answered) >= q.min_coverage * static_cast<double>(n_shards) - 1e-9;
    if (n_shards == 0) out.first_error = "no worker has reported its shards yet";
    out.took_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    co_return out;
}

}  // namespace aftershock::coordinator
