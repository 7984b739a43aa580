#pragma once
// Latency summaries (mean and percentiles) used by `aftershock search` and the benchmarks.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <vector>

namespace aftershock {

struct LatencySummary {
    std::size_t count = 0;
    double mean = 0.0;
    double p50 = 0.0;
    double p99 = 0.0;
};

/// Percentile by the nearest-rank method: the smallest value with at least p% of values at or below it.
[[nodiscard]] inline double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0.0;
    std::sort(values.begin(), values.end());
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

/// The mean alone (0 for none): what comparisons of runs need, without summarize_latencies' sorted copies.
[[nodiscard]] inline double mean_latency(const std::vector<double>& values) {
    return values.empty() ? 0.0 : std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

[[nodiscard]] inline LatencySummary summarize_latencies(const std::vector<double>& values) {
    LatencySummary s;
    s.count = values.size();
    if (values.empty()) return s;
    s.mean = mean_latency(values);
    s.p50 = percentile(values, 50.0);
    s.p99 = percentile(values, 99.0);
    return s;
}

}  // namespace aftershock
