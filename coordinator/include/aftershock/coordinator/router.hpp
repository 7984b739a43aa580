#pragma once
// Fan-out of one query to every shard (one replica each), with retry on another replica after a failure
// (a connection failure, a timeout, or an `unsupported` answer: replicas may differ, e.g. in their dense store),
// a hedged second request after the hedge delay, a per-request deadline, exact merge per route and fusion
// of the routes' global lists. One Router per I/O thread; it owns that thread's worker connections.
#include "aftershock/coordinator/api.hpp"
#include "aftershock/coordinator/cluster.hpp"
#include "aftershock/coordinator/metrics.hpp"
#include "aftershock/coordinator/worker_client.hpp"

#include <boost/asio.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace aftershock::coordinator {

struct RouterOptions {
    std::chrono::milliseconds default_timeout{1000};
    /// Hedge delay: > 0 fixed; 0 = the shard's recent p95 (no hedging until enough samples); < 0 = off.
    std::chrono::milliseconds hedge_delay{0};
    std::chrono::microseconds min_hedge_delay{500};
    std::chrono::milliseconds connect_timeout{500};
    std::uint32_t max_frame_bytes = wire::kDefaultMaxFrameBytes;
    /// Per-shard k reduction for queries that do not set shard_k_epsilon: 0 = off (every shard returns k).
    double shard_k_epsilon = 0.0;
    WorkerSecurity worker_security;  ///< TLS and shared secret towards the workers (default: plain, none)
};

struct SearchOutcome {
    std::vector<GlobalHit> hits;
    std::vector<std::string> ids;  ///< external ids of hits
    std::uint32_t shards = 0;
    std::uint32_t answered = 0;    ///< shards for which every route answered
    bool deadline_hit = false;
    bool coverage_ok = false;      ///< answered / shards >= min_coverage
    std::string first_error;       ///< a failed shard's reason, for the 501/503/504 message
    bool unsupported = false;      ///< a shard failed because every replica tried refused it as `unsupported` (501)
    double took_ms = 0.0;
    double search_ms = 0.0;        ///< the slowest answering shard's own search time (the fan-out's critical path; pipelines: summed over their steps)
    [[nodiscard]] bool partial() const noexcept { return answered < shards; }
    /// "sparse" | "dense" | "hybrid" | "rerank" | "prf"
    std::string mode;
};

class Router {
public:
    Router(boost::asio::any_io_executor ex, ClusterState& cluster, CoordinatorMetrics& metrics, RouterOptions options);

    /// Runs one query through the cluster. Never throws for shard failures: they show in coverage.
    boost::asio::awaitable<SearchOutcome> search(const SearchQuery& query);
    /// One round trip of a health or info request to worker `w` (on this router's connection to it).
    boost::asio::awaitable<Reply> probe(std::size_t w, std::vector<std::byte> frame, std::chrono::milliseconds timeout);
    [[nodiscard]] const boost::asio::any_io_executor& executor() const noexcept { return m_ex; }

private:
    struct RequestState;
    struct ShardCall;
    /// One request to one shard (any replica) and the answer type it expects.
    struct Call {
        std::uint32_t shard = 0;
        wire::MessageType expect = wire::MessageType::search_response;
        std::vector<std::byte> frame;
    };
    using Answer = std::variant<wire::SearchResponse, wire::ScoreResponse, wire::FetchResponse>;
    struct FanOut {
        std::vector<std::optional<Answer>> answers;  ///< by call; empty where every replica failed
        bool deadline_hit = false;
        std::string first_error;
        bool unsupported = false;  ///< a call failed because every replica tried answered `unsupported`
    };
    /// Sends every call (retry on another replica, hedging) and waits for all of them or the deadline.
    boost::asio::awaitable<FanOut> fan_out(std::vector<Call> calls, Clock::time_point deadline, bool exact);
    /// rerank / prf: the pipeline's steps, each one fan-out (searches to every shard, scores and fetches to
    /// the shards owning the documents).
    boost::asio::awaitable<SearchOutcome> search_pipeline(const SearchQuery& query, Clock::time_point start);
    boost::asio::awaitable<void> shard_call(std::shared_ptr<RequestState> rs, std::size_t call);
    boost::asio::awaitable<void> attempt(std::shared_ptr<RequestState> rs, std::shared_ptr<ShardCall> sc, std::size_t worker);
    [[nodiscard]] std::chrono::nanoseconds hedge_delay(std::uint32_t shard) const;

    boost::asio::any_io_executor m_ex;
    ClusterState& m_cluster;
    CoordinatorMetrics& m_metrics;
    RouterOptions m_opt;
    std::vector<std::unique_ptr<WorkerConnection>> m_connections;  ///< by worker
};

}  // namespace aftershock::coordinator
