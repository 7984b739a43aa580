#pragma once
// Recall-versus-latency sweep of the dense (FAISS) shards: every ef_search (HNSW) and nprobe (IVF) value,
// single-threaded per query, beside exact search over the shards' stored vectors in the same run; plus the
// throughput of one batched call on every core for each point.
#include "aftershock/common/index_dir.hpp"
#include "aftershock/common/latency.hpp"

#include <string>
#include <vector>

namespace aftershock::dense {

struct SweepPoint {
    std::string method;        ///< "exact", or the shards' index types ("hnsw", "flat+hnsw", ...)
    std::uint32_t ef_search = 0;
    std::uint32_t nprobe = 0;
    double recall = 0.0;       ///< recall@k against the exact top-k of the same run
    LatencySummary latency;    ///< microseconds per query, one query per call, single thread
    double speedup = 1.0;      ///< over exact search, paired round by round (aftershock::paired_speedup's median)
    double speedup_lowest = 1.0;  ///< the lowest round's
    double qps_batch = 0.0;    ///< queries per second of one batched call on `batch_threads` threads
};

struct SweepOptions {
    std::size_t k = 10;
    std::vector<std::uint32_t> ef_searches{10, 16, 32, 64, 128, 256, 512};
    std::vector<std::uint32_t> nprobes{1, 2, 4, 8, 16, 32, 64, 128};
    std::size_t max_queries = 0;  ///< 0 = all
    std::size_t runs = 1;         ///< rounds, each timing exact search and every point once; the median mean is kept
    unsigned batch_threads = 0;   ///< threads of the batched throughput call (0 = all cores)
};

/// Exact (first point), then each ef_search value when a shard is HNSW and each nprobe value when a shard
/// is IVF (their product when both), or one point for flat shards; timed in opt.runs rounds as the sparse sweep is.
[[nodiscard]] std::vector<SweepPoint> run_sweep(const LocalIndex& index, const DenseMatrix& queries,
                                                const SweepOptions& opt);

}  // namespace aftershock::dense
