#pragma once
// The index directory (DESIGN.md §5): manifest.json plus one shard file per shard. Shard ranges are
// contiguous corpus rows balanced by nonzeros; the shard count is independent of how many ranks build it.
#include "aftershock/common/dense/params.hpp"
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/hdf5.hpp"
#include "aftershock/common/merge.hpp"
#include "aftershock/common/shard_file.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace aftershock {

inline constexpr std::uint64_t kManifestFormatVersion = 1;

struct ShardRecord {
    std::uint32_t shard = 0;
    std::string file;
    std::uint64_t doc_begin = 0;
    std::uint64_t doc_end = 0;
    std::uint64_t nnz = 0;
    std::uint64_t bytes = 0;            ///< file size
    std::uint64_t postings = 0;
    std::uint64_t blocks = 0;
    std::string sha256;                 ///< of the shard file
    std::string checksum;               ///< content checksum stored inside the file
    std::string input_checksum;         ///< of the corpus rows the shard was built from
    double build_seconds = 0.0;         ///< timing (0 when the shard was resumed)
    bool resumed = false;
};

struct Manifest {
    std::uint64_t format_version = kManifestFormatVersion;
    std::string corpus;                 ///< path given to the build
    std::string corpus_checksum;        ///< combination of the shards' input checksums, in shard order
    std::uint64_t n_docs = 0;
    std::uint64_t dim = 0;
    std::uint32_t n_shards = 0;
    std::string build_params;           ///< JSON object
    std::vector<ShardRecord> shards;
    std::string build_stats;            ///< JSON object: ranks, wall time per phase (timings only)
};

[[nodiscard]] std::string to_json(const Manifest& m);
/// Shard records as a JSON array (how ranks send theirs to rank 0) and back.
[[nodiscard]] std::string records_to_json(const std::vector<ShardRecord>& records);
[[nodiscard]] std::vector<ShardRecord> records_from_json(const std::string& text, const std::string& source);
/// Parses a manifest; throws InputError naming `source` and the bad field.
[[nodiscard]] Manifest parse_manifest(const std::string& text, const std::string& source);
[[nodiscard]] Manifest read_manifest(const std::string& dir);
/// Writes DIR/manifest.json atomically (tmp file, fsync, rename).
void write_manifest(const std::string& dir, const Manifest& m);

/// Row boundaries (n_shards + 1 entries) splitting the corpus documents into contiguous shards of about
/// equal nonzeros (rows when the corpus is dense only). Reads O(n_shards log n) indptr entries, not the corpus.
[[nodiscard]] std::vector<std::uint64_t> plan_shards(const h5::File& corpus, std::uint32_t n_shards);

/// What a loaded index is for: serving queries gets the memory layout queries want; description only needs the checks.
enum class IndexUse { queries, description };

/// Loads one shard of `dir` listed in its manifest, checking the file's SHA-256 and content checksum and that
/// its metadata agrees with the record. Throws InputError naming the file. For queries (the default) its Seismic
/// arrays then move onto huge pages (SeismicIndex::prepare_for_queries).
[[nodiscard]] Shard load_verified_shard(const std::string& dir, const ShardRecord& record,
                                       DenseStoreMode dense_store = DenseStoreMode::memory,
                                       IndexUse use = IndexUse::queries);

/// A loaded index directory searched in-process (no servers): every shard, merged exactly.
class LocalIndex {
public:
    /// Loads every shard listed in the manifest with load_verified_shard (for queries by default).
    static LocalIndex open(const std::string& dir, DenseStoreMode dense_store = DenseStoreMode::memory,
                           IndexUse use = IndexUse::queries);
    [[nodiscard]] const Manifest& manifest() const noexcept { return m_manifest; }
    [[nodiscard]] std::uint64_t n_docs() const noexcept { return m_manifest.n_docs; }
    [[nodiscard]] const std::string& doc_id(std::uint64_t global) const;
    [[nodiscard]] const std::vector<Shard>& shards() const noexcept { return m_shards; }

    /// Seismic search of every query on every shard, merged to the global top-k (threads over queries).
    [[nodiscard]] std::vector<std::vector<GlobalHit>> search_sparse(const CsrMatrix& queries,
                                                                    const seismic::SearchParams& params, unsigned threads,
                                                                    std::vector<double>* latencies_us = nullptr,
                                                                    seismic::SearchStats* total = nullptr) const;

    /// Per query, the hits of `truth[q]`'s first k whose documents lie in the posting lists the Seismic search
    /// walks at `query_cut` (on their own shard), in truth order: their recall_at_k against `truth` is the recall
    /// no heap_factor can exceed without kNN refinement.
    [[nodiscard]] std::vector<std::vector<GlobalHit>> reachable_sparse(const CsrMatrix& queries,
                                                                     const std::vector<std::vector<GlobalHit>>& truth,
                                                                     std::uint32_t query_cut, std::size_t k) const;

    /// Dense search of every query on every shard (FAISS; exact over the stored vectors for a shard of
    /// type none), merged to the global top-k. With `latencies_us` each query runs alone, single-threaded
    /// per call (search_one), on `threads` threads over queries, and its latency is recorded; without it
    /// each shard answers all queries in one batched FAISS call on `threads` OpenMP threads.
    /// Throws InputError when a shard has no dense part or the query dimension differs.
    [[nodiscard]] std::vector<std::vector<GlobalHit>> search_dense(const DenseMatrix& queries,
                                                                   const dense::SearchParams& params, unsigned threads,
                                                                   std::vector<double>* latencies_us = nullptr) const;
    /// Exact dense top-k by brute force over the shards' stored full-precision vectors (same threading
    /// rules as search_dense): the ground truth for the approximate indexes.
    [[nodiscard]] std::vector<std::vector<GlobalHit>> search_dense_exact(const DenseMatrix& queries, std::size_t k,
                                                                         unsigned threads,
                                                                         std::vector<double>* latencies_us = nullptr) const;

private:
    /// The exact index of shard s over its stored vectors, built on first use (it copies the vectors).
    [[nodiscard]] const DenseExactIndex& dense_exact(std::size_t s) const;
    template <typename PerQuery, typename Batch>
    [[nodiscard]] std::vector<std::vector<GlobalHit>> search_dense_with(const DenseMatrix& queries, std::size_t k,
                                                                        unsigned threads, std::vector<double>* latencies_us,
                                                                        PerQuery&& per_query, Batch&& batch) const;

    Manifest m_manifest;
    std::vector<Shard> m_shards;
    mutable std::vector<std::shared_ptr<const DenseExactIndex>> m_dense_exact;
    std::unique_ptr<std::mutex> m_dense_exact_mutex = std::make_unique<std::mutex>();
};

}  // namespace aftershock
