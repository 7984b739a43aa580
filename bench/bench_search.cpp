// Google Benchmark micro-benchmarks of the search kernels, on generated SPLADE-like data:
// exact sparse search (the oracle), Seismic search at a default operating point, and TopK.
// Ratios only mean something within one run (the machine is shared): compare rows of the same output.
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/generator.hpp"
#include "aftershock/common/seismic/seismic_index.hpp"
#include "aftershock/common/topk.hpp"

#include <benchmark/benchmark.h>

#include <random>

namespace {

using namespace aftershock;

struct Data {
    CsrMatrix docs;
    CsrMatrix queries;
};

const Data& data() {
    static const Data d = [] {
        GeneratorOptions opt;
        opt.n_docs = 100000;
        opt.n_queries = 200;
        opt.seed = 7;
        return Data{generate_docs(opt, 0, opt.n_docs), generate_queries(opt)};
    }();
    return d;
}

void BM_SparseExactSearch(benchmark::State& state) {
    const auto& d = data();
    const SparseExactIndex index(d.docs);
    SparseExactScratch scratch;
    std::size_t q = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(index.search(d.queries.row(q), 10, scratch));
        q = (q + 1) % d.queries.n_rows();
    }
    state.counters["docs/s"] = benchmark::Counter(static_cast<double>(d.docs.n_rows()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SparseExactSearch)->Unit(benchmark::kMicrosecond);

void BM_SeismicSearch(benchmark::State& state) {
    const auto& d = data();
    static const auto index = [&] {
        seismic::BuildParams p;
        p.lambda = 300;
        return seismic::SeismicIndex::build(d.docs, p);
    }();
    seismic::SearchParams sp;
    sp.query_cut = static_cast<std::uint32_t>(state.range(0));
    sp.heap_factor = 0.8F;
    seismic::SearchScratch scratch;
    std::size_t q = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(index.search(d.queries.row(q), sp, scratch));
        q = (q + 1) % d.queries.n_rows();
    }
}
BENCHMARK(BM_SeismicSearch)->Arg(5)->Arg(10)->Unit(benchmark::kMicrosecond);

void BM_TopKPush(benchmark::State& state) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0.0F, 1.0F);
    std::vector<float> scores(1 << 16);
    for (auto& s : scores) s = u(rng);
    for (auto _ : state) {
        TopK top(static_cast<std::size_t>(state.range(0)));
        for (DocIndex i = 0; i < scores.size(); ++i) {
            if (scores[i] >= top.threshold()) top.push(scores[i], i);
        }
        benchmark::DoNotOptimize(top.take_sorted());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(scores.size()));
}
BENCHMARK(BM_TopKPush)->Arg(10)->Arg(100)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
