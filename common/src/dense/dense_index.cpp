#include "aftershock/common/dense/dense_index.hpp"

#include "aftershock/common/error.hpp"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>
#include <omp.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace aftershock::dense {
namespace {

using FaissIdx = faiss::Index::idx_t;

/// Runs the enclosing scope with `threads` OpenMP threads on the calling thread (0 = leave as is). The
/// setting is per thread in libgomp, so concurrent callers do not see each other's.
class ScopedOmpThreads {
public:
    explicit ScopedOmpThreads(unsigned threads) : m_saved(omp_get_max_threads()), m_set(threads > 0) {
        if (m_set) omp_set_num_threads(static_cast<int>(threads));
    }
    ~ScopedOmpThreads() {
        if (m_set) omp_set_num_threads(m_saved);
    }
    ScopedOmpThreads(const ScopedOmpThreads&) = delete;
    ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

private:
    int m_saved;
    bool m_set;
};

/// The hnsw.efSearch written into serialised bytes (FAISS's default), whatever searches set since.
constexpr int kSerializedEfSearch = 16;

faiss::MetricType faiss_metric(Metric m) { return m == Metric::l2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT; }

/// `count` distinct rows chosen by a seeded partial Fisher-Yates shuffle, in ascending row order.
std::vector<float> training_sample(const DenseMatrix& m, std::size_t count, std::uint64_t seed) {
    if (count >= m.n) return m.data;
    std::vector<std::size_t> rows(m.n);
    std::iota(rows.begin(), rows.end(), std::size_t{0});
    std::mt19937_64 rng(seed);  // raw engine output only: the same sample on every platform
    for (std::size_t i = 0; i < count; ++i) std::swap(rows[i], rows[i + rng() % (m.n - i)]);
    rows.resize(count);
    std::sort(rows.begin(), rows.end());
    std::vector<float> out;
    out.reserve(count * m.d);
    for (auto r : rows) out.insert(out.end(), m.data.begin() + static_cast<std::ptrdiff_t>(r * m.d),
                                   m.data.begin() + static_cast<std::ptrdiff_t>((r + 1) * m.d));
    return out;
}

std::unique_ptr<faiss::Index> make_index(const DenseMatrix& m, const BuildParams& p) {
    const auto d = static_cast<FaissIdx>(m.d);
    const auto metric = faiss_metric(m.metric);
    const auto n = static_cast<FaissIdx>(m.n);
    switch (p.type) {
    case IndexType::flat: {
        auto idx = std::make_unique<faiss::IndexFlat>(d, metric);
        idx->add(n, m.data.data());
        return idx;
    }
    case IndexType::hnsw: {
        auto idx = std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(d), static_cast<int>(p.hnsw_m), metric);
        idx->hnsw.efConstruction = static_cast<int>(p.ef_construction);
        idx->add(n, m.data.data());
        return idx;
    }
    case IndexType::ivf_flat:
    case IndexType::ivf_pq: {
        auto quantizer = std::make_unique<faiss::IndexFlat>(d, metric);
        std::unique_ptr<faiss::IndexIVF> idx;
        if (p.type == IndexType::ivf_flat) {
            idx = std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), static_cast<std::size_t>(d), p.nlist, metric);
        } else {
            auto pq = std::make_unique<faiss::IndexIVFPQ>(quantizer.get(), static_cast<std::size_t>(d), p.nlist,
                                                          p.pq_m, p.pq_nbits, metric);
            pq->pq.cp.seed = static_cast<int>(p.seed & 0x7FFFFFFF);
            idx = std::move(pq);
        }
        idx->own_fields = true;
        (void)quantizer.release();
        idx->cp.seed = static_cast<int>(p.seed & 0x7FFFFFFF);
        const auto sample = training_sample(m, std::size_t{p.train_per_list} * p.nlist, p.seed);
        idx->train(static_cast<FaissIdx>(sample.size() / m.d), sample.data());
        idx->add(n, m.data.data());
        return idx;
    }
    case IndexType::none:
    case IndexType::automatic: break;
    }
    throw UsageError(fmt::format("dense index type '{}' cannot be built (resolve the parameters first)", to_string(p.type)));
}

IndexType type_of(const faiss::Index& idx) {
    if (dynamic_cast<const faiss::IndexHNSWFlat*>(&idx) != nullptr) return IndexType::hnsw;
    if (dynamic_cast<const faiss::IndexIVFPQ*>(&idx) != nullptr) return IndexType::ivf_pq;
    if (dynamic_cast<const faiss::IndexIVFFlat*>(&idx) != nullptr) return IndexType::ivf_flat;
    if (dynamic_cast<const faiss::IndexFlat*>(&idx) != nullptr) return IndexType::flat;
    return IndexType::none;
}

/// Stored ids out of range would be read out of bounds at search time: check them once at load.
void check_ids(const faiss::Index& idx, const std::string& where) {
    const auto n = idx.ntotal;
    if (const auto* h = dynamic_cast<const faiss::IndexHNSW*>(&idx)) {
        const auto& g = h->hnsw;
        ensure<InputError>(h->storage != nullptr && h->storage->ntotal == n &&
                               g.levels.size() == static_cast<std::size_t>(n) &&
                               g.offsets.size() == static_cast<std::size_t>(n) + 1 && g.offsets.back() == g.neighbors.size(),
                           "{}: HNSW graph sizes disagree with its {} vectors", where, n);
        ensure<InputError>(std::all_of(g.neighbors.begin(), g.neighbors.end(), [&](auto v) { return v >= -1 && v < n; }) &&
                               (n == 0 || (g.entry_point >= 0 && g.entry_point < n)),
                           "{}: HNSW graph holds a node id out of range", where);
    }
    if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&idx)) {
        const auto* lists = ivf->invlists;
        ensure<InputError>(lists != nullptr && lists->nlist == ivf->nlist && ivf->quantizer != nullptr &&
                               ivf->quantizer->ntotal == static_cast<FaissIdx>(ivf->nlist),
                           "{}: IVF lists disagree with nlist {}", where, ivf->nlist);
        std::size_t total = 0;
        for (std::size_t l = 0; l < lists->nlist; ++l) {
            const auto size = lists->list_size(l);
            faiss::InvertedLists::ScopedIds ids(lists, l);
            ensure<InputError>(std::all_of(ids.get(), ids.get() + size, [&](auto v) { return v >= 0 && v < n; }),
                               "{}: IVF list {} holds an id out of range", where, l);
            total += size;
        }
        ensure<InputError>(total == static_cast<std::size_t>(n), "{}: IVF lists hold {} ids for {} vectors", where, total, n);
    }
}

}  // namespace

DenseIndex::DenseIndex(std::shared_ptr<faiss::Index> index, IndexType type, Metric metric, std::size_t dim)
    : m_index(std::move(index)), m_type(type), m_metric(metric), m_dim(dim) {}

std::size_t DenseIndex::size() const noexcept { return static_cast<std::size_t>(m_index->ntotal); }

DenseIndex DenseIndex::build(const DenseMatrix& vectors, const BuildParams& params) {
    ensure<UsageError>(vectors.d > 0, "dense vectors have dimension 0");
    DenseMatrix m = vectors;
    if (m.metric == Metric::cosine) normalize_rows(m);
    // One OpenMP thread: HNSW insertion order and k-means reductions then do not depend on the thread count,
    // which keeps shards byte-identical however many ranks and cores build them.
    const ScopedOmpThreads one(1);
    try {
        auto idx = make_index(m, params);
        return DenseIndex(std::shared_ptr<faiss::Index>(std::move(idx)), params.type, m.metric, m.d);
    } catch (const faiss::FaissException& e) {
        throw Error(fmt::format("FAISS failed to build a {} index over {} x {} vectors: {}", to_string(params.type), m.n,
                                m.d, e.what()));
    }
}

std::vector<std::uint8_t> DenseIndex::serialize() const {
    faiss::VectorIOWriter w;
    const std::unique_lock lock(*m_ef_mutex);
    auto* h = dynamic_cast<faiss::IndexHNSW*>(m_index.get());
    const int ef = h != nullptr ? h->hnsw.efSearch : 0;
    if (h != nullptr) h->hnsw.efSearch = kSerializedEfSearch;  // the bytes must not depend on past searches
    try {
        faiss::write_index(m_index.get(), &w);
        if (h != nullptr) h->hnsw.efSearch = ef;
    } catch (const faiss::FaissException& e) {
        if (h != nullptr) h->hnsw.efSearch = ef;
        throw Error(fmt::format("FAISS could not serialise the {} index: {}", to_string(m_type), e.what()));
    }
    return std::move(w.data);
}

DenseIndex DenseIndex::deserialize(std::span<const std::uint8_t> bytes, IndexType type, std::size_t dim, Metric metric,
                                   std::size_t n, const std::string& where) {
    faiss::VectorIOReader r;
    r.data.assign(bytes.begin(), bytes.end());
    std::unique_ptr<faiss::Index> idx;
    try {
        idx.reset(faiss::read_index(&r));
    } catch (const std::exception& e) {  // FaissException, and bad_alloc from a corrupt length
        throw InputError(fmt::format("{}: FAISS cannot read the dense index ({} bytes): {}", where, bytes.size(), e.what()));
    }
    ensure<InputError>(r.rp == r.data.size(), "{}: {} trailing bytes after the FAISS index", where, r.data.size() - r.rp);
    const auto actual = type_of(*idx);
    ensure<InputError>(actual == type, "{}: the FAISS index is {} but the shard says {}", where, to_string(actual),
                       to_string(type));
    ensure<InputError>(static_cast<std::size_t>(idx->d) == dim, "{}: FAISS index dimension {} but the shard says {}",
                       where, idx->d, dim);
    ensure<InputError>(idx->metric_type == faiss_metric(metric), "{}: FAISS index metric does not match the shard's {}",
                       where, to_string(metric));
    ensure<InputError>(static_cast<std::size_t>(idx->ntotal) == n && idx->is_trained,
                       "{}: FAISS index holds {} vectors but the shard has {}", where, idx->ntotal, n);
    check_ids(*idx, where);
    if (auto* h = dynamic_cast<faiss::IndexHNSW*>(idx.get())) h->hnsw.efSearch = kSerializedEfSearch;
    return DenseIndex(std::shared_ptr<faiss::Index>(std::move(idx)), type, metric, dim);
}

void DenseIndex::search_raw(std::size_t nq, const float* queries, const SearchParams& params, float* distances,
                            std::int64_t* labels) const {
    faiss::SearchParametersHNSW hnsw;
    faiss::SearchParametersIVF ivf;
    const faiss::SearchParameters* sp = nullptr;
    if (m_type == IndexType::hnsw) {
        hnsw.efSearch = static_cast<int>(std::max<std::size_t>(params.ef_search, params.k));
        sp = &hnsw;
    } else if (m_type == IndexType::ivf_flat || m_type == IndexType::ivf_pq) {
        const auto& index = static_cast<const faiss::IndexIVF&>(*m_index);
        ivf.nprobe = std::min<std::size_t>(params.nprobe, index.nlist);
        sp = &ivf;
    }
    static_assert(sizeof(FaissIdx) == sizeof(std::int64_t));
    const auto run = [&] {
        m_index->search(static_cast<FaissIdx>(nq), queries, static_cast<FaissIdx>(params.k), distances,
                        reinterpret_cast<FaissIdx*>(labels), sp);
    };
    try {
        if (m_type != IndexType::hnsw) return run();
        auto& graph = static_cast<faiss::IndexHNSW&>(*m_index).hnsw;
        for (;;) {
            {
                const std::shared_lock lock(*m_ef_mutex);
                if (graph.efSearch == hnsw.efSearch) return run();
            }
            const std::unique_lock lock(*m_ef_mutex);
            graph.efSearch = hnsw.efSearch;
        }
    } catch (const faiss::FaissException& e) {
        throw Error(fmt::format("FAISS {} search of {} queries failed: {}", to_string(m_type), nq, e.what()));
    }
}

std::vector<Hit> DenseIndex::to_hits(const float* distances, const std::int64_t* labels, std::size_t k) const {
    std::vector<Hit> hits;
    hits.reserve(k);
    for (std::size_t j = 0; j < k; ++j) {
        if (labels[j] < 0) continue;  // fewer than k candidates found
        hits.push_back({static_cast<DocIndex>(labels[j]), m_metric == Metric::l2 ? -distances[j] : distances[j]});
    }
    // FAISS does not order ties; the project order breaks them by the lower row, which merge_topk relies on.
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return ranks_before(a, b); });
    return hits;
}

std::vector<std::vector<Hit>> DenseIndex::search(const DenseMatrix& queries, const SearchParams& params,
                                                 unsigned threads) const {
    validate(params);
    ensure<InputError>(queries.d == m_dim, "query dimension {} does not match the dense index's {}", queries.d, m_dim);
    ensure<InputError>(queries.data.size() == queries.n * queries.d, "{} query values for shape [{}, {}]",
                       queries.data.size(), queries.n, queries.d);
    const float* q = queries.data.data();
    DenseMatrix normalized;
    if (m_metric == Metric::cosine) {
        normalized = queries;
        normalize_rows(normalized);
        q = normalized.data.data();
    }
    std::vector<float> distances(queries.n * params.k);
    std::vector<std::int64_t> labels(queries.n * params.k);
    {
        const ScopedOmpThreads scope(threads);
        search_raw(queries.n, q, params, distances.data(), labels.data());
    }
    std::vector<std::vector<Hit>> out(queries.n);
    for (std::size_t i = 0; i < queries.n; ++i) out[i] = to_hits(&distances[i * params.k], &labels[i * params.k], params.k);
    return out;
}

std::vector<Hit> DenseIndex::search_one(std::span<const float> query, const SearchParams& params) const {
    validate(params);
    ensure<InputError>(query.size() == m_dim, "query dimension {} does not match the dense index's {}", query.size(), m_dim);
    DenseMatrix q{1, m_dim, {query.begin(), query.end()}, m_metric};
    if (m_metric == Metric::cosine) normalize_rows(q);
    std::vector<float> distances(params.k);
    std::vector<std::int64_t> labels(params.k);
    const ScopedOmpThreads one(1);
    search_raw(1, q.data.data(), params, distances.data(), labels.data());
    return to_hits(distances.data(), labels.data(), params.k);
}

}  // namespace aftershock::dense
