#include "aftershock/coordinator/router.hpp"

#include "aftershock/common/merge.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace aftershock::coordinator {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

/// One fan-out in flight: every call reports here; the last one wakes the waiting search.
struct Router::RequestState {
    RequestState(const asio::any_io_executor& ex, std::size_t n_calls, Clock::time_point dl) : done(ex), remaining(n_calls), deadline(dl) {}
    asio::steady_timer done;
    std::size_t remaining;
    Clock::time_point deadline;
    bool exact = false;
    bool finished = false;  ///< the search has returned (deadline): late calls stop hedging and retrying
    std::vector<Call> calls;
    std::vector<std::optional<Answer>> answers;  ///< by call
    std::string first_error;
    bool unsupported = false;  ///< some call found no replica able to serve it (every one tried refused: unsupported)
};

/// The replicas tried for one call and the outcome.
struct Router::ShardCall {
    ShardCall(const asio::any_io_executor& ex, std::uint32_t s, std::size_t c) : wake(ex), shard(s), call(c) {}
    asio::steady_timer wake;
    std::uint32_t shard;
    std::size_t call;
    std::vector<std::size_t> tried;
    std::size_t in_flight = 0;
    bool succeeded = false;
    bool fatal = false;  ///< the worker refused the query itself (bad_request): another replica would too
    /// Replicas that answered `unsupported`: this replica lacks what the request needs (e.g. exact dense search
    /// on a worker with --dense-store disk), another replica of the shard may have it, so it is retried.
    std::size_t unsupported = 0;
};

Router::Router(asio::any_io_executor ex, ClusterState& cluster, CoordinatorMetrics& metrics, RouterOptions options)
    : m_ex(std::move(ex)), m_cluster(cluster), m_metrics(metrics), m_opt(options) {
    for (std::size_t w = 0; w < cluster.n_workers(); ++w) {
        m_connections.push_back(std::make_unique<WorkerConnection>(m_ex, cluster.address(w), m_opt.connect_timeout,
                                                                   m_opt.max_frame_bytes, m_opt.worker_security));
    }
}

awaitable<Reply> Router::probe(std::size_t w, std::vector<std::byte> frame, std::chrono::milliseconds timeout) {
    co_return co_await m_connections[w]->call(std::move(frame), Clock::now() + timeout);
}

std::chrono::nanoseconds Router::hedge_delay(std::uint32_t shard) const {
    if (m_opt.hedge_delay.count() < 0) return std::chrono::nanoseconds::max();
    if (m_opt.hedge_delay.count() > 0) return m_opt.hedge_delay;
    const auto p95 = m_cluster.latency_p95(shard);
    if (!p95) return std::chrono::nanoseconds::max();
    return std::max<std::chrono::nanoseconds>(m_opt.min_hedge_delay, std::chrono::nanoseconds(static_cast<std::int64_t>(*p95 * 1e9)));
}

awaitable<Router::FanOut> Router::fan_out(std::vector<Call> calls, Clock::time_point deadline, bool exact) {
    auto rs = std::make_shared<RequestState>(m_ex, calls.size(), deadline);
    rs->exact = exact;
    rs->calls = std::move(calls);
    rs->answers.resize(rs->calls.size());
    for (std::size_t c = 0; c < rs->calls.size(); ++c) asio::co_spawn(m_ex, shard_call(rs, c), asio::detached);
    FanOut out;
    if (rs->remaining > 0) {
        rs->done.expires_at(rs->deadline);
        boost::system::error_code ec;
        co_await rs->done.async_wait(asio::redirect_error(use_awaitable, ec));
        out.deadline_hit = rs->remaining > 0;
    }
    rs->finished = true;
    out.answers = std::move(rs->answers);
    out.first_error = rs->first_error;
    out.unsupported = rs->unsupported;
    co_return out;
}

namespace {

/// Encodes a search for one shard.
std::vector<std::byte> search_frame(std::uint32_t shard, wire::Route route, bool exact, std::uint32_t k, std::uint32_t budget,
                                    const wire::SearchKnobs& knobs, wire::WireQuery query) {
    wire::SearchRequest r{shard, route, exact, k, budget, knobs, {}};
    r.queries.push_back(std::move(query));
    return wire::encode(0, r);
}

}  // namespace

awaitable<SearchOutcome> Router::search(const SearchQuery& q) {
    const auto start = Clock::now();
    if (q.is_pipeline()) co_return co_await search_pipeline(q, start);
    SearchOutcome out;
    out.mode = q.has_sparse && q.has_dense ? "hybrid" : (q.has_sparse ? "sparse" : "dense");
    const auto n_shards = m_cluster.n_shards();
    out.shards = n_shards;
    const auto timeout = q.timeout_ms > 0 ? std::chrono::milliseconds(q.timeout_ms) : m_opt.default_timeout;
    const bool hybrid = q.has_sparse && q.has_dense;
    const std::uint32_t depth = hybrid ? q.candidates : q.k;
    const std::uint32_t shard_depth = reduced_shard_depth(depth, n_shards, q.shard_k_epsilon.value_or(m_opt.shard_k_epsilon));
    const auto budget = static_cast<std::uint32_t>(timeout.count());
    std::vector<wire::Route> routes;
    if (q.has_sparse) routes.push_back(wire::Route::sparse);
    if (q.has_dense) routes.push_back(wire::Route::dense);
    const auto call_for = [&](wire::Route route, std::uint32_t s, std::uint32_t d) {
        wire::WireQuery wq;
        if (route == wire::Route::sparse) {
            wq.indices = q.indices;
            wq.values = q.values;
        } else {
            wq.dense = q.dense;
        }
        return Call{s, wire::MessageType::search_response, search_frame(s, route, q.exact, d, budget, q.knobs, std::move(wq))};
    };
    // calls[r * n_shards + s]: route r on shard s.
    std::vector<Call> calls;
    for (auto route : routes) {
        for (std::uint32_t s = 0; s < n_shards; ++s) calls.push_back(call_for(route, s, shard_depth));
    }
    auto fo = co_await fan_out(std::move(calls), start + timeout, q.exact);
    out.deadline_hit = fo.deadline_hit;

    // Per route: merge the answered shards' lists exactly; remember ids for the final hits.
    std::unordered_map<std::uint64_t, std::string> ids;
    std::vector<std::vector<GlobalHit>> lists(fo.answers.size());  // by call
    const auto take = [&](std::size_t call, std::optional<Answer>& slot) {
        if (!slot) return;
        auto& a = std::get<wire::SearchResponse>(*slot);
        if (a.results.empty()) return;
        out.search_ms = std::max(out.search_ms, static_cast<double>(a.search_ns) * 1e-6);
        lists[call] = std::move(a.results[0]);
        if (!a.ids.empty()) {
            for (std::size_t i = 0; i < lists[call].size() && i < a.ids[0].size(); ++i) ids.emplace(lists[call][i].doc, a.ids[0][i]);
        }
    };
    for (std::size_t c = 0; c < fo.answers.size(); ++c) take(c, fo.answers[c]);
    std::vector<std::vector<GlobalHit>> merged(routes.size());
    const auto merge_route = [&](std::size_t r) {
        merged[r] = merge_topk(std::span(lists).subspan(r * n_shards, n_shards), depth);
    };
    for (std::size_t r = 0; r < routes.size(); ++r) merge_route(r);
    if (shard_depth < depth) {
        // A shard that filled its reduced depth with hits still inside the global cut may hold more of the top:
        // ask it again for the full depth (rare by construction), so the answer stays the exact merge.
        std::vector<Call> again;
        std::vector<std::size_t> again_call;
        for (std::size_t r = 0; r < routes.size(); ++r) {
            for (std::uint32_t s = 0; s < n_shards; ++s) {
                const auto c = r * n_shards + s;
                if (fo.answers[c] && may_hide_more(lists[c], shard_depth, merged[r], depth)) {
                    again.push_back(call_for(routes[r], s, depth));
                    again_call.push_back(c);
                }
            }
        }
        if (!again.empty()) {
            m_metrics.shard_k_refetches.Increment(static_cast<double>(again.size()));
            auto fo2 = co_await fan_out(std::move(again), start + timeout, q.exact);
            out.deadline_hit = out.deadline_hit || fo2.deadline_hit;
            for (std::size_t i = 0; i < again_call.size(); ++i) {
                if (!fo2.answers[i]) {
                    fo.answers[again_call[i]].reset();  // its first list may miss hits: count the shard as not answered
                    lists[again_call[i]].clear();
                    if (fo.first_error.empty()) fo.first_error = fo2.first_error;
                    continue;
                }
                take(again_call[i], fo2.answers[i]);
            }
            for (std::size_t r = 0; r < routes.size(); ++r) merge_route(r);
        }
    }
    for (std::uint32_t s = 0; s < n_shards; ++s) {
        bool all = true;
        for (std::size_t r = 0; r < routes.size(); ++r) all = all && fo.answers[r * n_shards + s].has_value();
        out.answered += all ? 1 : 0;
    }
    // One code path for every mode: a single route is fused as the identity (linear, no normalisation, weight 1).
    std::vector<FusionRoute> fusion_routes;
    FusionParams fp = q.fusion;
    if (hybrid) {
        fusion_routes.push_back({merged[0], q.weight_sparse});
        fusion_routes.push_back({merged[1], q.weight_dense});
    } else {
        fusion_routes.push_back({merged[0], 1.0});
        fp = {FusionMethod::linear, 60.0, Normalization::none};
    }
    out.hits = fuse(fusion_routes, fp, q.k);
    out.ids.reserve(out.hits.size());
    for (const auto& h : out.hits) {
        const auto it = ids.find(h.doc);
        out.ids.push_back(it != ids.end() ? it->second : std::to_string(h.doc));
    }
    out.coverage_ok = n_shards > 0 && static_cast<double>(out.answered) >= q.min_coverage * static_cast<double>(n_shards) - 1e-9;
    out.first_error = fo.first_error;
    out.unsupported = fo.unsupported;
    if (n_shards == 0) out.first_error = "no worker has reported its shards yet";
    out.took_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    co_return out;
}

awaitable<void> Router::shard_call(std::shared_ptr<RequestState> rs, std::size_t call) {
    const auto shard = rs->calls[call].shard;
    auto sc = std::make_shared<ShardCall>(m_ex, shard, call);
    const auto launch = [&]() -> bool {
        const auto reps = m_cluster.live_replicas(shard, sc->tried);
        if (reps.empty()) return false;
        sc->tried.push_back(reps.front());
        ++sc->in_flight;
        // Counted now, not when the attempt coroutine starts: the other shards of this fan-out choose their
        // replicas next, and must see this one as busy (else every shard goes to the same fastest replica).
        m_cluster.begin_request(reps.front());
        asio::co_spawn(m_ex, attempt(rs, sc, reps.front()), asio::detached);
        return true;
    };
    // Shadow exact searches are background work: never hedged (it would double their cost).
    const auto delay = rs->exact ? std::chrono::nanoseconds::max() : hedge_delay(shard);
    const auto hedge_at = delay == std::chrono::nanoseconds::max() ? Clock::time_point::max() : Clock::now() + delay;
    bool hedged = false;
    for (;;) {
        if (sc->succeeded || sc->fatal || rs->finished) break;
        if (sc->in_flight == 0) {
            // First try, or every attempt so far failed: go to a replica not tried yet, if any.
            if (!launch()) {
                if (sc->tried.empty()) {
                    if (rs->first_error.empty()) rs->first_error = fmt::format("shard {} has no live replica", shard);
                    m_metrics.shard_error(shard, "no_replica");
                } else if (sc->unsupported == sc->tried.size()) {
                    rs->unsupported = true;
                }
                break;
            }
            if (sc->tried.size() > 1) m_metrics.retries.Increment();
            continue;
        }
        if (!hedged && Clock::now() >= hedge_at) {
            hedged = true;
            if (launch()) m_metrics.hedged_requests.Increment();
            continue;
        }
        sc->wake.expires_at(hedged ? rs->deadline : std::min(hedge_at, rs->deadline));
        boost::system::error_code ec;
        co_await sc->wake.async_wait(asio::redirect_error(use_awaitable, ec));
        if (Clock::now() >= rs->deadline && !sc->succeeded) break;
    }
    if (--rs->remaining == 0) rs->done.cancel();
}

awaitable<void> Router::attempt(std::shared_ptr<RequestState> rs, std::shared_ptr<ShardCall> sc, std::size_t w) {
    auto frame = rs->calls[sc->call].frame;
    const auto expect = rs->calls[sc->call].expect;
    const auto start = Clock::now();
    auto reply = co_await m_connections[w]->call(std::move(frame), rs->deadline);
    m_cluster.end_request(w);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::string error;
    if (reply.kind == Reply::Kind::answer && reply.type == expect) {
        try {
            Answer resp;
            if (expect == wire::MessageType::search_response) {
                resp = wire::decode_search_response(reply.payload);
            } else if (expect == wire::MessageType::score_response) {
                resp = wire::decode_score_response(reply.payload);
            } else {
                resp = wire::decode_fetch_response(reply.payload);
            }
            m_metrics.shard_request(sc->shard, seconds);
            if (!rs->exact) {
                m_cluster.record_latency(sc->shard, seconds);  // the hedge delay follows live traffic only
                m_cluster.record_worker_latency(w, seconds);
            }
            if (!sc->succeeded) {
                sc->succeeded = true;
                if (!rs->finished) rs->answers[sc->call] = std::move(resp);
            }
        } catch (const std::exception& e) {
            error = fmt::format("shard {} on {}: bad answer: {}", sc->shard, m_cluster.address(w).str(), e.what());
            m_metrics.shard_error(sc->shard, "protocol");
            m_connections[w]->close("bad answer");
        }
    } else if (reply.kind == Reply::Kind::answer && reply.type == wire::MessageType::error_response) {
        try {
            const auto err = wire::decode_error_response(reply.payload);
            error = fmt::format("shard {} on {}: {}: {}", sc->shard, m_cluster.address(w).str(), wire::to_string(err.code), err.message);
            m_metrics.shard_error(sc->shard, wire::to_string(err.code));
            if (err.code == wire::ErrorCode::bad_request) sc->fatal = true;
            if (err.code == wire::ErrorCode::unsupported) ++sc->unsupported;
        } catch (const std::exception& e) {
            error = e.what();
            m_metrics.shard_error(sc->shard, "protocol");
        }
    } else if (reply.kind == Reply::Kind::timeout) {
        error = fmt::format("shard {} on {}: no answer before the deadline", sc->shard, m_cluster.address(w).str());
        m_metrics.shard_error(sc->shard, "timeout");
    } else {
        error = fmt::format("shard {} on {}: {}", sc->shard, m_cluster.address(w).str(), reply.failure);
        m_metrics.shard_error(sc->shard, reply.kind == Reply::Kind::answer ? "protocol" : "connection");
        // The worker is gone or unreachable: stop routing to it until its health check passes again.
        m_cluster.mark_unhealthy(w, reply.failure);
    }
    if (!error.empty() && rs->first_error.empty()) rs->first_error = error;
    --sc->in_flight;
    sc->wake.cancel();
}

}  // namespace aftershock::coordinator
