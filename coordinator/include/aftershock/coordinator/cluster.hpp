#pragma once
// What the coordinator knows about its workers: addresses, health, which shards each serves (learned from
// their info answers; two workers serving a shard are replicas), per-shard latency for hedging, and the
// number of requests each worker has in flight (replica choice). Shared by every I/O thread, so locked.
#include "aftershock/common/host_port.hpp"
#include "aftershock/coordinator/api.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace aftershock::coordinator {

using Clock = std::chrono::steady_clock;

/// A worker's info answer (wire info_response JSON), parsed.
struct WorkerInfo {
    std::uint32_t n_shards = 0;
    std::uint64_t n_docs = 0;
    std::string corpus_checksum;
    struct ShardInfo {
        std::uint32_t shard = 0;
        std::uint64_t doc_begin = 0;
        std::uint64_t doc_end = 0;
        bool sparse = false;
        std::uint64_t dim = 0;
        bool dense = false;
        std::uint64_t dense_dim = 0;
    };
    std::vector<ShardInfo> shards;
};
/// Throws InputError naming the field.
[[nodiscard]] WorkerInfo parse_worker_info(const std::string& json);

class ClusterState {
public:
    explicit ClusterState(std::vector<HostPort> workers);

    [[nodiscard]] std::size_t n_workers() const noexcept { return m_addresses.size(); }
    [[nodiscard]] const HostPort& address(std::size_t w) const { return m_addresses[w]; }
    [[nodiscard]] bool known(std::size_t w) const;

    /// Health updates (the health loop and failed requests). Returns true when the state changed.
    bool mark_healthy(std::size_t w);
    bool mark_unhealthy(std::size_t w, const std::string& why);
    /// Records a worker's shards. A worker whose index differs from the others' (shard count, corpus
    /// checksum) is refused: returns false and logs why.
    bool set_info(std::size_t w, const WorkerInfo& info);

    /// The index as learned so far: shard count (0 until a worker answered) and dimensions.
    [[nodiscard]] std::uint32_t n_shards() const;
    [[nodiscard]] IndexFacts facts() const;
    /// Healthy workers serving `shard`, best first, without those in `exclude`. Best = lowest expected wait:
    /// (requests in flight + 1) x the worker's recent latency (EWMA), so a slow replica gets little traffic;
    /// one choice in 50 keeps the rotated order instead, so a replica that recovered is noticed (hedging covers
    /// the cost of those picks).
    [[nodiscard]] std::vector<std::size_t> live_replicas(std::uint32_t shard, const std::vector<std::size_t>& exclude = {}) const;
    /// True when the index is known and every shard has at least one healthy replica.
    [[nodiscard]] bool ready() const;
    /// Per-shard count of healthy replicas (for metrics).
    [[nodiscard]] std::vector<std::size_t> live_replica_counts() const;
    [[nodiscard]] std::vector<std::uint64_t> shard_documents() const;
    /// [doc_begin, doc_end) of every shard, by shard id (where a global document lives).
    [[nodiscard]] std::vector<std::pair<std::uint64_t, std::uint64_t>> shard_ranges() const;
    /// /v1/cluster body.
    [[nodiscard]] nlohmann::json describe() const;

    /// Requests in flight per worker (replica choice: least loaded first).
    void begin_request(std::size_t w) noexcept { m_in_flight[w].fetch_add(1, std::memory_order_relaxed); }
    void end_request(std::size_t w) noexcept { m_in_flight[w].fetch_sub(1, std::memory_order_relaxed); }

    /// A worker's answer time (seconds), folded into its EWMA.
    void record_worker_latency(std::size_t w, double seconds);
    /// Shard latency window (seconds) and its 95th percentile (nullopt until min_samples were seen).
    void record_latency(std::uint32_t shard, double seconds);
    [[nodiscard]] std::optional<double> latency_p95(std::uint32_t shard, std::size_t min_samples = 20) const;

private:
    struct Worker {
        bool healthy = false;
        bool known = false;
        bool refused = false;
        std::string last_error;
        std::uint64_t failures = 0;
        Clock::time_point last_ok{};
        WorkerInfo info;
    };
    struct LatencyWindow {
        std::vector<double> samples;  ///< ring buffer
        std::size_t next = 0;
        std::size_t count = 0;
    };
    mutable std::mutex m_mutex;
    std::vector<HostPort> m_addresses;
    std::vector<Worker> m_workers;
    std::unique_ptr<std::atomic<std::int64_t>[]> m_in_flight;
    std::vector<double> m_ewma;  ///< seconds per worker (under m_mutex); 0 = no answer yet
    std::uint32_t m_n_shards = 0;
    std::string m_checksum;
    std::vector<WorkerInfo::ShardInfo> m_shard_info;   ///< by shard id
    std::vector<std::vector<std::size_t>> m_replicas;  ///< shard -> workers serving it
    std::vector<LatencyWindow> m_latency;              ///< by shard
    mutable std::atomic<std::size_t> m_rotation{0};
};

}  // namespace aftershock::coordinator
