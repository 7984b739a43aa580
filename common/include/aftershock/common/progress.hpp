#pragma once
// Periodic progress lines for long work (imports, generation, ground truth): at most one log line every
// `interval` seconds, with rate and, when the total is known, an ETA.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace aftershock {

class Progress {
public:
    /// total = 0 means unknown.
    Progress(std::string what, std::uint64_t total, std::string unit, double interval_seconds = 2.0);
    /// Adds done units; thread-safe; logs if the interval has passed.
    void add(std::uint64_t done);
    /// Logs the final line (count, elapsed, rate).
    void finish();
    [[nodiscard]] std::uint64_t done() const noexcept { return m_done.load(); }
    [[nodiscard]] double elapsed_seconds() const;

private:
    void report(bool final);
    std::string m_what;
    std::uint64_t m_total;
    std::string m_unit;
    std::chrono::steady_clock::duration m_interval;
    std::chrono::steady_clock::time_point m_start;
    // Ticks of the last report: read by every add() without the lock, so atomic (TSan found the plain read).
    std::atomic<std::chrono::steady_clock::rep> m_last;
    std::atomic<std::uint64_t> m_done{0};
    std::mutex m_mutex;
};

}  // namespace aftershock
