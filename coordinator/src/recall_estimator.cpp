#include "aftershock/coordinator/recall_estimator.hpp"

#include <algorithm>
#include <unordered_set>

namespace aftershock::coordinator {

double recall_at_k(const std::vector<std::uint64_t>& served, const std::vector<std::uint64_t>& exact) {
    if (exact.empty()) return 1.0;
    const std::unordered_set<std::uint64_t> truth(exact.begin(), exact.end());
    std::size_t hit = 0;
    for (auto d : served) hit += truth.count(d);
    return static_cast<double>(hit) / static_cast<double>(truth.size());
}

RecallEstimator::RecallEstimator(double sample_fraction, std::size_t window, std::uint64_t seed)
    : m_fraction(std::clamp(sample_fraction, 0.0, 1.0)), m_window(std::max<std::size_t>(window, 1)), m_rng(seed) {}

bool RecallEstimator::sample() {
    if (m_fraction <= 0.0) return false;
    if (m_fraction >= 1.0) return true;
    std::lock_guard lock(m_mutex);
    return std::uniform_real_distribution<double>(0.0, 1.0)(m_rng) < m_fraction;
}

double RecallEstimator::add(const std::string& mode, double recall) {
    std::lock_guard lock(m_mutex);
    auto& w = m_windows[mode];
    if (w.values.size() < m_window) {
        w.values.push_back(recall);
        w.sum += recall;
    } else {
        w.sum += recall - w.values[w.next];
        w.values[w.next] = recall;
        w.next = (w.next + 1) % m_window;
    }
    return w.sum / static_cast<double>(w.values.size());
}

std::optional<double> RecallEstimator::estimate(const std::string& mode) const {
    std::lock_guard lock(m_mutex);
    const auto it = m_windows.find(mode);
    if (it == m_windows.end() || it->second.values.empty()) return std::nullopt;
    double sum = 0.0;  // recomputed, so the running sum's rounding never drifts into the answer
    for (auto v : it->second.values) sum += v;
    return sum / static_cast<double>(it->second.values.size());
}

std::size_t RecallEstimator::samples(const std::string& mode) const {
    std::lock_guard lock(m_mutex);
    const auto it = m_windows.find(mode);
    return it == m_windows.end() ? 0 : it->second.values.size();
}

}  // namespace aftershock::coordinator
