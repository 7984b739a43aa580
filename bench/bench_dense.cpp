// Google Benchmark: our DenseIndex wrapper against calling FAISS directly on the same index, in the same
// run, for flat, HNSW, IVF-Flat and IVF-PQ; batched (one call for every query) and one query per call, one
// thread. The acceptance ratio is wrapper QPS / direct QPS (>= 0.9): compare medians of repetitions, e.g.
//   aftershock_bench_dense --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// What the wrapper adds: query copy (and normalisation for cosine; ip here, so none), result conversion to
// hits and the tie-order sort, and the scoped OpenMP thread setting.
#include "aftershock/common/dense/dense_index.hpp"

#include <benchmark/benchmark.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <omp.h>

#include <map>
#include <random>

namespace {

using namespace aftershock;
using dense::IndexType;

constexpr std::size_t kDocs = 30000;
constexpr std::size_t kDim = 128;
constexpr std::size_t kQueries = 500;
constexpr std::size_t kK = 10;

/// Rows around 64 random centres (structure for the graph and the lists), seeded.
DenseMatrix gaussian_rows(std::size_t n, std::uint32_t seed) {
    std::mt19937 centre_rng(5);
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0F, 1.0F);
    std::vector<float> centres(64 * kDim);
    for (auto& c : centres) c = g(centre_rng);
    DenseMatrix m{n, kDim, std::vector<float>(n * kDim), Metric::ip};
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = rng() % 64;
        for (std::size_t j = 0; j < kDim; ++j) m.data[i * kDim + j] = centres[c * kDim + j] + 0.5F * g(rng);
    }
    return m;
}

const DenseMatrix& queries() {
    static const auto q = gaussian_rows(kQueries, 2);
    return q;
}

const dense::DenseIndex& index_of(IndexType type) {
    static std::map<IndexType, dense::DenseIndex> cache;
    auto it = cache.find(type);
    if (it == cache.end()) {
        static const auto docs = gaussian_rows(kDocs, 1);
        dense::BuildParams p;
        p.type = type;
        p.hnsw_m = 16;
        p.ef_construction = 100;
        p.pq_m = 16;
        it = cache.emplace(type, dense::DenseIndex::build(docs, dense::resolve(p, docs.n, docs.d))).first;
    }
    return it->second;
}

dense::SearchParams search_params() {
    dense::SearchParams sp;
    sp.k = kK;
    sp.ef_search = 64;
    sp.nprobe = 16;
    return sp;
}

/// The same per-type parameter object the wrapper builds, for the direct calls. FAISS 1.7.3 sizes the
/// HNSW candidate queue from the index's hnsw.efSearch (not from the parameters), so a direct caller sets
/// that member too: both sides then do the same work.
struct DirectParams {
    faiss::SearchParametersHNSW hnsw;
    faiss::SearchParametersIVF ivf;
    const faiss::SearchParameters* get(IndexType type) {
        const auto sp = search_params();
        hnsw.efSearch = static_cast<int>(sp.ef_search);
        ivf.nprobe = sp.nprobe;
        if (type == IndexType::hnsw) {
            auto& index = const_cast<faiss::IndexHNSW&>(dynamic_cast<const faiss::IndexHNSW&>(index_of(type).faiss_index()));
            index.hnsw.efSearch = hnsw.efSearch;
            return &hnsw;
        }
        if (type == IndexType::ivf_flat || type == IndexType::ivf_pq) return &ivf;
        return nullptr;
    }
};

void BM_WrapperBatch(benchmark::State& state, IndexType type) {
    const auto& index = index_of(type);
    const auto sp = search_params();
    for (auto _ : state) benchmark::DoNotOptimize(index.search(queries(), sp, 1));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kQueries));
}

void BM_DirectBatch(benchmark::State& state, IndexType type) {
    const auto& index = index_of(type).faiss_index();
    DirectParams params;
    const auto* p = params.get(type);
    std::vector<float> distances(kQueries * kK);
    std::vector<faiss::Index::idx_t> labels(kQueries * kK);
    omp_set_num_threads(1);
    for (auto _ : state) {
        index.search(static_cast<faiss::Index::idx_t>(kQueries), queries().data.data(), kK, distances.data(), labels.data(), p);
        benchmark::DoNotOptimize(labels.data());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kQueries));
}

void BM_WrapperOne(benchmark::State& state, IndexType type) {
    const auto& index = index_of(type);
    const auto sp = search_params();
    for (auto _ : state) {
        for (std::size_t q = 0; q < kQueries; ++q) benchmark::DoNotOptimize(index.search_one(queries().row(q), sp));
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kQueries));
}

void BM_DirectOne(benchmark::State& state, IndexType type) {
    const auto& index = index_of(type).faiss_index();
    DirectParams params;
    const auto* p = params.get(type);
    std::vector<float> distances(kK);
    std::vector<faiss::Index::idx_t> labels(kK);
    omp_set_num_threads(1);
    for (auto _ : state) {
        for (std::size_t q = 0; q < kQueries; ++q) {
            index.search(1, queries().row(q).data(), kK, distances.data(), labels.data(), p);
            benchmark::DoNotOptimize(labels.data());
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kQueries));
}

// Direct and wrapper alternate per type so that drifts of the shared machine hit both alike.
#define AFTERSHOCK_DENSE_BENCH(type, name)                                                                      \
    BENCHMARK_CAPTURE(BM_DirectBatch, name, type)->Unit(benchmark::kMillisecond)->MinTime(0.5)->UseRealTime(); \
    BENCHMARK_CAPTURE(BM_WrapperBatch, name, type)->Unit(benchmark::kMillisecond)->MinTime(0.5)->UseRealTime(); \
    BENCHMARK_CAPTURE(BM_DirectOne, name, type)->Unit(benchmark::kMillisecond)->MinTime(0.5)->UseRealTime();  \
    BENCHMARK_CAPTURE(BM_WrapperOne, name, type)->Unit(benchmark::kMillisecond)->MinTime(0.5)->UseRealTime()

AFTERSHOCK_DENSE_BENCH(IndexType::flat, flat);
AFTERSHOCK_DENSE_BENCH(IndexType::hnsw, hnsw);
AFTERSHOCK_DENSE_BENCH(IndexType::ivf_flat, ivf_flat);
AFTERSHOCK_DENSE_BENCH(IndexType::ivf_pq, ivf_pq);

}  // namespace

BENCHMARK_MAIN();
