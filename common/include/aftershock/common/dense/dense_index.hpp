#pragma once
// DenseIndex: a FAISS index (flat, HNSW, IVF-Flat, IVF-PQ) behind a small, batch-first interface.
// Scores follow the project order: inner product (ip), cosine similarity (cosine: rows and queries are
// normalised, then inner product) or the negated squared L2 distance (l2): higher is always better, as in
// DenseExactIndex. Hits are local row numbers (the order the vectors were given to build()).
//
// Threads: FAISS parallelises with OpenMP. Every search call takes `threads` and runs with exactly that
// many OpenMP threads (set for the calling thread only and restored on return), so a caller's own pool can
// call search(..., threads = 1) concurrently without FAISS spawning a team per call; OMP_NUM_THREADS only
// matters where a caller passes 0 ("OpenMP's default"). The index is immutable after build/load, and FAISS
// search is const and thread-safe, so any number of threads may search one DenseIndex at once.
#include "aftershock/common/dense/params.hpp"
#include "aftershock/common/dense_matrix.hpp"
#include "aftershock/common/types.hpp"

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

namespace faiss {
struct Index;
}

namespace aftershock::dense {

class DenseIndex {
public:
    /// Builds over every row of `vectors` (metric taken from it) with resolved parameters (type != none,
    /// != automatic). Deterministic: the same rows and parameters give byte-identical serialize() output,
    /// whatever the thread count (training and HNSW insertion run on one OpenMP thread).
    /// Throws UsageError for parameters the data cannot support.
    [[nodiscard]] static DenseIndex build(const DenseMatrix& vectors, const BuildParams& params);

    /// Reads an index written by serialize() and checks it against what the shard says it holds:
    /// type, dimension, metric and vector count (and, for graphs and lists, that every stored id is in
    /// range). FAISS errors and any mismatch become InputError naming `where`.
    [[nodiscard]] static DenseIndex deserialize(std::span<const std::uint8_t> bytes, IndexType type, std::size_t dim,
                                                Metric metric, std::size_t n, const std::string& where);

    /// FAISS's own serialisation (faiss::write_index), in memory.
    [[nodiscard]] std::vector<std::uint8_t> serialize() const;

    [[nodiscard]] IndexType type() const noexcept { return m_type; }
    [[nodiscard]] Metric metric() const noexcept { return m_metric; }
    [[nodiscard]] std::size_t dim() const noexcept { return m_dim; }
    [[nodiscard]] std::size_t size() const noexcept;
    /// The underlying FAISS index (benchmarks compare the wrapper with direct calls).
    [[nodiscard]] const faiss::Index& faiss_index() const noexcept { return *m_index; }

    /// Top-k of every row of `queries` in one FAISS call, on `threads` OpenMP threads (0 = OpenMP's
    /// default). Each list is sorted best first (ties to the lower row); it may be shorter than k when the
    /// index finds fewer candidates. Throws InputError when the query dimension differs from the index's.
    [[nodiscard]] std::vector<std::vector<Hit>> search(const DenseMatrix& queries, const SearchParams& params,
                                                       unsigned threads) const;
    /// Top-k of one query on the calling thread only (for a server's own thread pool).
    [[nodiscard]] std::vector<Hit> search_one(std::span<const float> query, const SearchParams& params) const;

private:
    DenseIndex(std::shared_ptr<faiss::Index> index, IndexType type, Metric metric, std::size_t dim);
    void search_raw(std::size_t nq, const float* queries, const SearchParams& params, float* distances,
                    std::int64_t* labels) const;
    [[nodiscard]] std::vector<Hit> to_hits(const float* distances, const std::int64_t* labels, std::size_t k) const;

    std::shared_ptr<faiss::Index> m_index;  ///< shared: shards are copyable; only HNSW's efSearch ever changes
    /// FAISS 1.7.3 sizes HNSW's candidate queue from the index's own hnsw.efSearch, not from the per-call
    /// SearchParametersHNSW (fixed in later FAISS), so a call with another ef_search sets that member under
    /// the exclusive lock; searches with the current value share the lock and run concurrently.
    std::shared_ptr<std::shared_mutex> m_ef_mutex = std::make_shared<std::shared_mutex>();
    IndexType m_type = IndexType::flat;
    Metric m_metric = Metric::ip;
    std::size_t m_dim = 0;
};

}  // namespace aftershock::dense
