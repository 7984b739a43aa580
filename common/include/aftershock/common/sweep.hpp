#pragma once
// Recall-versus-latency sweeps: every (query_cut, heap_factor[, knn, screen_entries]) point searched
// single-threaded, measured side by side with exact search in the same run (the machine is shared: only
// same-run ratios are meaningful).
#include "aftershock/common/index_dir.hpp"
#include "aftershock/common/latency.hpp"

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aftershock {

struct SweepPoint {
    std::string method;             ///< "seismic" or "exact"
    std::uint32_t query_cut = 0;
    float heap_factor = 0.0F;
    std::uint32_t knn = 0;          ///< neighbours used per result: the asked value, at most what the graph holds
    bool first_sorted = false;
    std::uint32_t screen_entries = 0;
    float screen_factor = 0.0F;
    double recall = 0.0;            ///< recall@k against the exact top-k of the same run
    LatencySummary latency;         ///< microseconds per query, single thread
    double speedup = 1.0;           ///< over exact search, paired round by round (PairedSpeedup::median)
    double speedup_lowest = 1.0;    ///< the lowest round's
    double docs_scored = 0.0;       ///< mean per query (seismic): documents touched, screened or not
    double docs_full = 0.0;         ///< mean per query: of those, scored over all their entries (passed the screen)
    double reachable = 0.0;         ///< share of the exact top-k in the walked lists: recall's ceiling without kNN
};

struct SweepOptions {
    std::size_t k = 10;
    std::vector<std::uint32_t> query_cuts{3, 5, 8, 10, 15};
    std::vector<float> heap_factors{0.6F, 0.7F, 0.8F, 0.9F, 1.0F};
    std::vector<std::uint32_t> knns{seismic::kAllNeighbours};  ///< 0 = off; the default: all the index's graph holds
    bool first_sorted = false;
    std::vector<std::uint32_t> screen_entries{48};  ///< prefix lengths (0 = off), swept innermost for A/B
    float screen_factor = 0.7F;
    std::uint32_t prefix_lead = 0;  ///< SearchParams::prefix_lead of every point
    std::size_t max_queries = 0;    ///< 0 = all
    std::size_t runs = 1;           ///< rounds, each timing exact search and every point once; the median mean is kept
};

/// Of several runs' latencies (at least one), those of the run with the median mean.
[[nodiscard]] inline std::vector<double> median_mean_run(std::vector<std::vector<double>> runs) {
    std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) {
        return mean_latency(a) < mean_latency(b);
    });
    return std::move(runs[runs.size() / 2]);
}

/// A point's speed over exact search from rounds that each timed both: per round, exact search's mean latency over the
/// point's, so that a host drifting between rounds moves both sides of each ratio alike.
struct PairedSpeedup {
    double median = 0.0;  ///< the median round's ratio (the mean of the middle two for an even count)
    double lowest = 0.0;  ///< the slowest round's: whether a target held in every round, not only at the median
};
/// Rounds are paired by position (throws when the counts differ); a round without a positive mean on both sides (no
/// queries) gives no ratio, and no ratio at all gives zeros.
[[nodiscard]] PairedSpeedup paired_speedup(const std::vector<std::vector<double>>& exact_rounds,
                                           const std::vector<std::vector<double>>& point_rounds);

/// Latencies from rounds that each time exact search and then every point once: a point's round r ran right after exact
/// search's round r, so paired_speedup can divide them.
struct RoundLatencies {
    std::vector<std::vector<double>> exact;                ///< per round
    std::vector<std::vector<std::vector<double>>> points;  ///< per point, per round
};
/// Runs max(1, runs) rounds of exact(latencies) and then point(c, latencies) for every c < n_points, logging each round
/// as `what`: how both sweeps time, so that a point is never timed minutes away from its baseline on a drifting host.
[[nodiscard]] RoundLatencies time_in_rounds(std::size_t runs, std::size_t n_points,
                                            const std::function<void(std::vector<double>&)>& exact,
                                            const std::function<void(std::size_t, std::vector<double>&)>& point,
                                            std::string_view what);

/// recall@k of `got` against `truth`: mean over queries of |got ∩ truth| / min(k, |truth|).
[[nodiscard]] double recall_at_k(const std::vector<std::vector<GlobalHit>>& got,
                                 const std::vector<std::vector<GlobalHit>>& truth, std::size_t k);

/// Exact search (the first point) then every Seismic point, single-threaded, on the first max_queries
/// queries. `docs` are the corpus documents the index was built from (for the exact baseline). Each of the `runs`
/// rounds times exact search and then every point once, and each keeps its round with the median mean.
[[nodiscard]] std::vector<SweepPoint> run_sweep(const LocalIndex& index, const CsrMatrix& docs, const CsrMatrix& queries,
                                                const SweepOptions& opt);

}  // namespace aftershock
