// Google Benchmark micro-benchmarks of the search kernels, on generated SPLADE-like data:
// exact sparse search (the oracle), Seismic search at a default operating point, screening prefixes (exact and
// estimated through the ScreeningTable), and TopK.
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

/// 48-entry prefixes of 1,000 documents (held in L2) per iteration, as screening scores them: exactly through the
/// forward index's kernels (arg 0), or estimated through the query's ScreeningTable, a block of 8 documents per call
/// (arg 1; skipped on a CPU without AVX-512 F+BW).
void BM_ScreenPrefixes(benchmark::State& state) {
    const bool table = state.range(0) == 1;
    if (table && !seismic::ScreeningTable::supported()) {
        state.SkipWithError("no AVX-512 F+BW on this CPU");
        return;
    }
    const auto& d = data();
    constexpr std::size_t kDocs = 1000;
    constexpr std::uint32_t kPrefix = 48;
    static const auto forward = [&] {
        CsrMatrix head;
        head.dim = d.docs.dim;
        for (std::size_t i = 0; i < kDocs; ++i) head.append_row(d.docs.row(i).indices, d.docs.row(i).values);
        return seismic::ForwardIndex(head);
    }();
    std::vector<seismic::PackedPosting> postings;
    for (std::size_t i = 0; i < kDocs; ++i) postings.push_back(forward.posting(i));
    std::vector<float> dense(d.docs.dim, 0.0F);
    std::vector<float> out(kDocs);
    seismic::ScreeningTable screening;
    std::size_t q = 0;
    for (auto _ : state) {
        const auto query = d.queries.row(q);
        for (std::size_t i = 0; i < query.size(); ++i) dense[query.indices[i]] = query.values[i];
        if (table) {
            benchmark::DoNotOptimize(screening.build(query, d.docs.dim));
            for (std::size_t b = 0; b < kDocs; b += 8) {
                screening.score_prefixes(forward.packed().data(), std::span(postings).subspan(b, 8), kPrefix,
                                         out.data() + b);
            }
        } else {
            for (std::size_t i = 0; i < kDocs; ++i) out[i] = forward.prefix_sums(dense.data(), postings[i], kPrefix).total();
        }
        benchmark::DoNotOptimize(out.data());
        for (std::size_t i = 0; i < query.size(); ++i) dense[query.indices[i]] = 0.0F;
        q = (q + 1) % d.queries.n_rows();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(kDocs));
}
BENCHMARK(BM_ScreenPrefixes)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

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
