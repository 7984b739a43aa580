#include "aftershock/common/progress.hpp"

#include <spdlog/spdlog.h>

namespace aftershock {

Progress::Progress(std::string what, std::uint64_t total, std::string unit, double interval_seconds)
    : m_what(std::move(what)),
      m_total(total),
      m_unit(std::move(unit)),
      m_interval(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(interval_seconds))),
      m_start(std::chrono::steady_clock::now()),
      m_last(m_start.time_since_epoch().count()) {}

double Progress::elapsed_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
}

void Progress::add(std::uint64_t done) {
    m_done += done;
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    const auto due = [&] { return now - m_last.load(std::memory_order_relaxed) >= m_interval.count(); };
    if (!due()) return;
    std::unique_lock lock(m_mutex, std::try_to_lock);
    if (!lock.owns_lock() || !due()) return;
    m_last.store(now, std::memory_order_relaxed);
    report(false);
}

void Progress::finish() {
    std::lock_guard lock(m_mutex);
    report(true);
}

void Progress::report(bool final) {
    const double secs = elapsed_seconds();
    const auto done = m_done.load();
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
    if (final) {
        spdlog::info("{}: done, {} {} in {:.1f} s ({:.0f} {}/s)", m_what, done, m_unit, secs, rate, m_unit);
    } else if (m_total > 0) {
        const double eta = rate > 0 ? static_cast<double>(m_total - std::min(done, m_total)) / rate : 0.0;
        spdlog::info("{}: {}/{} {} ({:.1f}%), {:.0f} {}/s, ETA {:.0f} s", m_what, done, m_total, m_unit,
                     100.0 * static_cast<double>(done) / static_cast<double>(m_total), rate, m_unit, eta);
    } else {
        spdlog::info("{}: {} {}, {:.0f} {}/s", m_what, done, m_unit, rate, m_unit);
    }
}

}  // namespace aftershock
