#pragma once
// Online recall: recall@k of served answers against the exact answers of the same queries, re-run in the
// background for a sampled fraction of live traffic, averaged over a sliding window per mode.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace aftershock::coordinator {

/// |served ∩ exact| / |exact| over document ids (1 when the exact answer is empty).
[[nodiscard]] double recall_at_k(const std::vector<std::uint64_t>& served, const std::vector<std::uint64_t>& exact);

class RecallEstimator {
public:
    RecallEstimator(double sample_fraction, std::size_t window, std::uint64_t seed = 1);
    /// Decides whether this query is re-run exactly (thread-safe).
    [[nodiscard]] bool sample();
    /// Adds one sample and returns the window's mean for `mode`.
    double add(const std::string& mode, double recall);
    [[nodiscard]] std::optional<double> estimate(const std::string& mode) const;
    [[nodiscard]] std::size_t samples(const std::string& mode) const;

private:
    struct Window {
        std::vector<double> values;
        std::size_t next = 0;
        double sum = 0.0;
    };
    mutable std::mutex m_mutex;
    double m_fraction;
    std::size_t m_window;
    std::mt19937_64 m_rng;
    std::map<std::string, Window> m_windows;
};

}  // namespace aftershock::coordinator
