#include "aftershock/common/dense/sweep.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/sweep.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <set>

namespace aftershock::dense {
namespace {

DenseMatrix first_rows(const DenseMatrix& m, std::size_t n) {
    if (n == 0 || n >= m.n) return m;
    DenseMatrix out{n, m.d, {m.data.begin(), m.data.begin() + static_cast<std::ptrdiff_t>(n * m.d)}, m.metric};
    return out;
}

template <typename Fn> double batch_qps(std::size_t nq, Fn&& search) {
    const auto start = std::chrono::steady_clock::now();
    search();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return s > 0.0 ? static_cast<double>(nq) / s : 0.0;
}

}  // namespace

std::vector<SweepPoint> run_sweep(const LocalIndex& index, const DenseMatrix& all_queries, const SweepOptions& opt) {
    const auto queries = first_rows(all_queries, opt.max_queries);
    std::set<IndexType> types;
    for (const auto& s : index.shards()) {
        ensure<InputError>(s.dense.has_value(), "shard {} has no dense part", s.meta.shard);
        types.insert(s.dense->params.type);
    }
    std::string method;
    for (auto t : types) method += (method.empty() ? "" : "+") + std::string(to_string(t));
    const SearchParams defaults;
    const bool graph = types.contains(IndexType::hnsw);
    const bool lists = types.contains(IndexType::ivf_flat) || types.contains(IndexType::ivf_pq);
    const std::vector<std::uint32_t> efs = graph ? opt.ef_searches : std::vector<std::uint32_t>{defaults.ef_search};
    const std::vector<std::uint32_t> probes = lists ? opt.nprobes : std::vector<std::uint32_t>{defaults.nprobe};
    std::vector<SearchParams> settings;
    for (auto ef : efs) {
        for (auto np : probes) {
            SearchParams sp;
            sp.k = opt.k;
            sp.ef_search = ef;
            sp.nprobe = np;
            settings.push_back(sp);
        }
    }
    // Builds the shards' exact indexes (a copy of their vectors) outside the timed runs.
    (void)index.search_dense_exact(first_rows(queries, 1), opt.k, 1);
    std::vector<std::vector<GlobalHit>> truth;
    std::vector<std::vector<std::vector<GlobalHit>>> got(settings.size());
    auto lat = time_in_rounds(
        opt.runs, settings.size(),
        [&](std::vector<double>& l) { truth = index.search_dense_exact(queries, opt.k, 1, &l); },
        [&](std::size_t c, std::vector<double>& l) { got[c] = index.search_dense(queries, settings[c], 1, &l); },
        "dense sweep");
    std::vector<SweepPoint> points;
    {
        SweepPoint p;
        p.method = "exact";
        p.recall = 1.0;
        p.latency = summarize_latencies(median_mean_run(lat.exact));
        p.qps_batch = batch_qps(queries.n, [&] { (void)index.search_dense_exact(queries, opt.k, opt.batch_threads); });
        points.push_back(p);
        spdlog::info("dense sweep: exact mean {:.1f} us p99 {:.1f} us, batch {:.0f} QPS over {} queries", p.latency.mean,
                     p.latency.p99, p.qps_batch, queries.n);
    }
    for (std::size_t c = 0; c < settings.size(); ++c) {
        const auto& sp = settings[c];
        SweepPoint p;
        p.method = method;
        p.ef_search = graph ? sp.ef_search : 0;
        p.nprobe = lists ? sp.nprobe : 0;
        p.recall = recall_at_k(got[c], truth, opt.k);
        const auto speedup = paired_speedup(lat.exact, lat.points[c]);
        p.speedup = speedup.median;
        p.speedup_lowest = speedup.lowest;
        p.latency = summarize_latencies(median_mean_run(std::move(lat.points[c])));
        p.qps_batch = batch_qps(queries.n, [&] { (void)index.search_dense(queries, sp, opt.batch_threads); });
        points.push_back(p);
        spdlog::info("dense sweep: {} ef_search {} nprobe {}: recall@{} {:.4f}, mean {:.1f} us, p99 {:.1f} us, {:.4g}x exact "
                     "(lowest round {:.4g}x), batch {:.0f} QPS",
                     method, p.ef_search, p.nprobe, opt.k, p.recall, p.latency.mean, p.latency.p99, p.speedup,
                     p.speedup_lowest, p.qps_batch);
    }
    return points;
}

}  // namespace aftershock::dense
