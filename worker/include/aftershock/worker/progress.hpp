#pragma once
// Aggregated build progress (what rank 0 prints during a long build): shards and documents done across all
// ranks, build rate and ETA. MPI-free: the driver feeds it the per-shard reports the ranks send to rank 0.
#include <chrono>
#include <cstdint>
#include <string>

namespace aftershock::worker {

/// One finished shard as reported by the rank that built (or resumed) it.
struct ShardProgress {
    std::uint32_t shard = 0;
    std::uint64_t docs = 0;
    std::uint64_t nnz = 0;
    bool resumed = false;  ///< skipped as complete and verified: counts as done, not towards the build rate
    double seconds = 0.0;
};

class ProgressTracker {
public:
    using Clock = std::chrono::steady_clock;

    ProgressTracker(std::uint32_t total_shards, std::uint64_t total_docs, Clock::time_point start = Clock::now());

    void add(const ShardProgress& p);

    [[nodiscard]] std::uint32_t shards_done() const noexcept { return m_shards_done; }
    [[nodiscard]] std::uint64_t docs_done() const noexcept { return m_docs_done; }
    [[nodiscard]] std::uint32_t shards_resumed() const noexcept { return m_shards_resumed; }
    [[nodiscard]] bool complete() const noexcept { return m_shards_done >= m_total_shards; }

    /// Seconds left at the rate of the documents built (not resumed) so far; negative while unknown.
    [[nodiscard]] double eta_seconds(Clock::time_point now = Clock::now()) const;

    /// "progress: 3/8 shards, 1500/4000 docs (37.5%), 1 resumed, 2.1 s elapsed, 714 docs/s, ETA 3.5 s"
    [[nodiscard]] std::string line(Clock::time_point now = Clock::now()) const;

private:
    std::uint32_t m_total_shards;
    std::uint64_t m_total_docs;
    Clock::time_point m_start;
    std::uint32_t m_shards_done = 0;
    std::uint32_t m_shards_resumed = 0;
    std::uint64_t m_docs_done = 0;
    std::uint64_t m_docs_built = 0;
};

}  // namespace aftershock::worker
