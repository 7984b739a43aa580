#include "aftershock/worker/progress.hpp"

#include <fmt/format.h>

namespace aftershock::worker {

ProgressTracker::ProgressTracker(std::uint32_t total_shards, std::uint64_t total_docs, Clock::time_point start)
    : m_total_shards(total_shards), m_total_docs(total_docs), m_start(start) {}

void ProgressTracker::add(const ShardProgress& p) {
    ++m_shards_done;
    m_docs_done += p.docs;
    if (p.resumed) {
        ++m_shards_resumed;
    } else {
        m_docs_built += p.docs;
    }
}

double ProgressTracker::eta_seconds(Clock::time_point now) const {
    if (m_docs_done >= m_total_docs) return 0.0;
    const double elapsed = std::chrono::duration<double>(now - m_start).count();
    if (m_docs_built == 0 || elapsed <= 0.0) return -1.0;
    const double rate = static_cast<double>(m_docs_built) / elapsed;
    return static_cast<double>(m_total_docs - m_docs_done) / rate;
}

std::string ProgressTracker::line(Clock::time_point now) const {
    const double elapsed = std::chrono::duration<double>(now - m_start).count();
    const double pct = m_total_docs == 0 ? 100.0 : 100.0 * static_cast<double>(m_docs_done) / static_cast<double>(m_total_docs);
    const double rate = elapsed > 0.0 ? static_cast<double>(m_docs_built) / elapsed : 0.0;
    const double eta = eta_seconds(now);
    return fmt::format("progress: {}/{} shards, {}/{} docs ({:.1f}%), {} resumed, {:.1f} s elapsed, {:.0f} docs/s, ETA {}",
                       m_shards_done, m_total_shards, m_docs_done, m_total_docs, pct, m_shards_resumed, elapsed, rate,
                       eta < 0.0 ? std::string("unknown") : fmt::format("{:.1f} s", eta));
}

}  // namespace aftershock::worker
