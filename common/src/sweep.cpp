#include "aftershock/common/sweep.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/exact_search.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>
#include <utility>

namespace aftershock {

double recall_at_k(const std::vector<std::vector<GlobalHit>>& got, const std::vector<std::vector<GlobalHit>>& truth,
                   std::size_t k) {
    ensure(got.size() == truth.size(), "recall: {} result lists for {} queries", got.size(), truth.size());
    double sum = 0.0;
    std::size_t counted = 0;
    for (std::size_t q = 0; q < truth.size(); ++q) {
        const auto n = std::min(k, truth[q].size());
        if (n == 0) continue;  // a query matching nothing has no recall to measure
        std::unordered_set<std::uint64_t> want;
        for (std::size_t i = 0; i < n; ++i) want.insert(truth[q][i].doc);
        std::size_t hit = 0;
        for (std::size_t i = 0; i < std::min(k, got[q].size()); ++i) hit += want.count(got[q][i].doc);
        sum += static_cast<double>(hit) / static_cast<double>(n);
        ++counted;
    }
    return counted > 0 ? sum / static_cast<double>(counted) : 1.0;
}

PairedSpeedup paired_speedup(const std::vector<std::vector<double>>& exact_rounds,
                             const std::vector<std::vector<double>>& point_rounds) {
    ensure(exact_rounds.size() == point_rounds.size(),
           "paired speedup: {} rounds of exact search against {} of the point", exact_rounds.size(), point_rounds.size());
    std::vector<double> ratios;
    for (std::size_t r = 0; r < exact_rounds.size(); ++r) {
        const double exact = mean_latency(exact_rounds[r]);
        const double point = mean_latency(point_rounds[r]);
        if (exact > 0.0 && point > 0.0) ratios.push_back(exact / point);
    }
    if (ratios.empty()) return {};  // nothing timed (no queries)
    std::sort(ratios.begin(), ratios.end());
    const auto n = ratios.size();
    return {n % 2 == 1 ? ratios[n / 2] : (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0, ratios.front()};
}

RoundLatencies time_in_rounds(std::size_t runs, std::size_t n_points,
                              const std::function<void(std::vector<double>&)>& exact,
                              const std::function<void(std::size_t, std::vector<double>&)>& point, std::string_view what) {
    const auto rounds = std::max<std::size_t>(1, runs);
    RoundLatencies t;
    t.exact.resize(rounds);
    t.points.assign(n_points, std::vector<std::vector<double>>(rounds));
    for (std::size_t r = 0; r < rounds; ++r) {
        exact(t.exact[r]);
        for (std::size_t c = 0; c < n_points; ++c) point(c, t.points[c][r]);
        spdlog::info("{}: round {} of {} done ({} points)", what, r + 1, rounds, n_points);
    }
    return t;
}

namespace {

CsrMatrix first_rows(const CsrMatrix& m, std::size_t n) {
    if (n == 0 || n >= m.n_rows()) return m;
    CsrMatrix out;
    out.dim = m.dim;
    for (std::size_t i = 0; i < n; ++i) out.append_row(m.row(i).indices, m.row(i).values);
    return out;
}

/// One Seismic point of the sweep, from its measured round: hits, work counts and latencies.
SweepPoint sweep_point(const LocalIndex& index, std::size_t n_queries, const std::vector<std::vector<GlobalHit>>& got,
                       const seismic::SearchStats& stats, const std::vector<double>& lat, PairedSpeedup speedup,
                       const std::vector<std::vector<GlobalHit>>& truth, const seismic::SearchParams& sp,
                       const SweepOptions& opt, double reachable) {
    SweepPoint p;
    p.method = "seismic";
    p.query_cut = sp.query_cut;
    p.heap_factor = sp.heap_factor;
    std::uint32_t graph = 0;
    for (const auto& shard : index.shards()) {
        if (shard.sparse) graph = std::max(graph, shard.sparse->arrays().knn);
    }
    p.knn = std::min(sp.knn, graph);
    p.first_sorted = sp.first_sorted;
    p.screen_entries = sp.screen_entries;
    p.screen_factor = sp.screen_entries > 0 ? sp.screen_factor : 0.0F;
    p.recall = recall_at_k(got, truth, opt.k);
    p.latency = summarize_latencies(lat);
    p.speedup = speedup.median;
    p.speedup_lowest = speedup.lowest;
    const auto per_query = static_cast<double>(std::max<std::size_t>(1, n_queries));
    p.docs_scored = static_cast<double>(stats.docs_scored) / per_query;
    p.docs_full = static_cast<double>(stats.docs_scored - stats.docs_screened_out) / per_query;
    p.reachable = reachable;
    spdlog::info("sweep: qc {} hf {:.2f} knn {} screen {}: recall@{} {:.4f}, mean {:.1f} us, p99 {:.1f} us, {:.4g}x exact "
                 "(lowest round {:.4g}x)",
                 sp.query_cut, sp.heap_factor, p.knn, sp.screen_entries, opt.k, p.recall, p.latency.mean, p.latency.p99,
                 p.speedup, p.speedup_lowest);
    return p;
}

}  // namespace

std::vector<SweepPoint> run_sweep(const LocalIndex& index, const CsrMatrix& docs, const CsrMatrix& all_queries,
                                  const SweepOptions& opt) {
    const auto queries = first_rows(all_queries, opt.max_queries);
    std::vector<seismic::SearchParams> params;
    std::vector<std::size_t> cut_of;  // per point: the position of its query_cut in opt.query_cuts
    for (auto knn : opt.knns) {
        for (std::size_t c = 0; c < opt.query_cuts.size(); ++c) {
            const auto qc = opt.query_cuts[c];
            for (auto hf : opt.heap_factors) {
                for (auto screen : opt.screen_entries) {
                    seismic::SearchParams sp;
                    sp.k = opt.k;
                    sp.query_cut = qc;
                    sp.heap_factor = hf;
                    sp.knn = knn;
                    sp.first_sorted = opt.first_sorted;
                    sp.screen_entries = screen;
                    sp.screen_factor = opt.screen_factor;
                    sp.prefix_lead = opt.prefix_lead;
                    params.push_back(sp);
                    cut_of.push_back(c);
                }
            }
        }
    }
    const SparseExactIndex exact(docs);
    std::vector<std::vector<Hit>> exact_hits;
    std::vector<std::vector<std::vector<GlobalHit>>> got(params.size());
    std::vector<seismic::SearchStats> stats(params.size());
    auto lat = time_in_rounds(
        opt.runs, params.size(), [&](std::vector<double>& l) { exact_hits = exact.search_batch(queries, opt.k, 1, &l); },
        [&](std::size_t c, std::vector<double>& l) { got[c] = index.search_sparse(queries, params[c], 1, &l, &stats[c]); },
        "sweep");
    const auto truth = as_global_hits(exact_hits);
    std::vector<SweepPoint> points;
    {
        SweepPoint p;
        p.method = "exact";
        p.recall = 1.0;
        p.reachable = 1.0;
        p.latency = summarize_latencies(median_mean_run(lat.exact));
        points.push_back(p);
        spdlog::info("sweep: exact mean {:.1f} us p99 {:.1f} us over {} queries", p.latency.mean, p.latency.p99,
                     queries.n_rows());
    }
    // The ceiling of each query_cut, computed once and outside every timed search.
    std::vector<double> reachable;
    for (auto qc : opt.query_cuts) {
        reachable.push_back(recall_at_k(index.reachable_sparse(queries, truth, qc, opt.k), truth, opt.k));
    }
    for (std::size_t c = 0; c < params.size(); ++c) {
        const auto speedup = paired_speedup(lat.exact, lat.points[c]);
        points.push_back(sweep_point(index, queries.n_rows(), got[c], stats[c], median_mean_run(std::move(lat.points[c])),
                                     speedup, truth, params[c], opt, reachable[cut_of[c]]));
    }
    return points;
}

}  // namespace aftershock
