// A/B of Seismic query speed on a real index, in one process: scalar vs SIMD scoring kernels at a few
// operating points. Each iteration runs every query once, single thread; Google Benchmark reports CPU time,
// which a shared machine's preemption does not inflate (wall time does). Use repetitions with random
// interleaving so the variants alternate:
//   AFTERSHOCK_AB_SHARD=idx/shard-00000.h5 AFTERSHOCK_AB_CORPUS=corpus.h5 aftershock_bench_seismic_ab
//     --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
#include "seismic_ab_inputs.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>

namespace {

using namespace aftershock;

seismic::SeismicIndex& index() {
    static auto shard = std::make_unique<Shard>(ab::read_ab_shard());
    return *shard->sparse;
}

const CsrMatrix& queries() {
    static const CsrMatrix q = ab::read_ab_queries();
    return q;
}

// Args: SIMD (0/1), query_cut, heap_factor x 100.
void BM_SeismicAB(benchmark::State& state) {
    auto& idx = index();
    const auto& qs = queries();
    const auto* simd = seismic::avx2_kernels();
    if (state.range(0) == 1 && simd == nullptr) {
        state.SkipWithError("no AVX2+F16C");
        return;
    }
    idx.set_kernels(state.range(0) == 1 ? *simd : seismic::scalar_kernels());
    seismic::SearchParams sp;
    sp.query_cut = static_cast<std::uint32_t>(state.range(1));
    sp.heap_factor = static_cast<float>(state.range(2)) / 100.0F;
    seismic::SearchScratch scratch;
    seismic::SearchStats stats;
    std::uint64_t scored = 0;
    for (auto _ : state) {
        for (std::size_t q = 0; q < qs.n_rows(); ++q) {
            benchmark::DoNotOptimize(idx.search(qs.row(q), sp, scratch, &stats));
            scored += stats.docs_scored;
        }
    }
    const auto n = static_cast<double>(qs.n_rows());
    // CPU microseconds per query (a rate counter divides by CPU time; inverted, times 1e-6).
    state.counters["us_per_query"] = benchmark::Counter(n * 1e-6, benchmark::Counter::kIsIterationInvariantRate |
                                                                      benchmark::Counter::kInvert);
    state.counters["docs_per_query"] = static_cast<double>(scored) / (n * static_cast<double>(state.iterations()));
}
BENCHMARK(BM_SeismicAB)
    ->ArgsProduct({{0, 1}, {10}, {70}})
    ->ArgsProduct({{0, 1}, {3}, {100}})
    ->ArgNames({"simd", "qc", "hf100"})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
