#pragma once
// Building one shard of an index directory: read its corpus rows, build the Seismic index (sparse rows) and
// the dense part (dense rows: stored vectors plus a FAISS index), write the shard file. Rank-agnostic and MPI-free: the MPI driver (tools/build_main.cpp) only decides who builds what.
#include "aftershock/common/dense/params.hpp"
#include "aftershock/common/index_dir.hpp"
#include "aftershock/common/seismic/params.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace aftershock::worker {

struct ShardBuildOptions {
    std::string corpus;
    std::string out_dir;
    std::uint32_t n_shards = 1;
    seismic::BuildParams params;
    dense::BuildParams dense;  ///< used when the corpus has /docs/dense (`automatic` is resolved per shard)
    bool resume = true;  ///< skip a shard whose file exists, verifies and was built from the same rows and params
    // Fault injection for the tests only (hidden flags of aftershock-build; never set in production):
    std::int64_t fail_shard = -1;  ///< --fail-shard: throw while building this shard (after reading its rows)
    unsigned test_delay_ms = 0;    ///< --test-delay-ms: sleep this long before building each shard
};

/// Build-time record of one shard's phases (seconds).
struct ShardTimings {
    double read = 0.0;
    double build = 0.0;
    double write = 0.0;
};

/// Builds (or resumes) shard `shard` covering corpus rows [begin, end). Throws with the shard and cause.
/// Memory: the shard's corpus rows, its index and (when resuming) the existing shard file, all released on
/// return, so a rank building shards one after another holds one shard at a time.
[[nodiscard]] ShardRecord build_shard(const ShardBuildOptions& opt, std::uint32_t shard, std::uint64_t begin,
                                      std::uint64_t end, ShardTimings* timings = nullptr);

/// The build_params JSON of shards and manifest: {"sparse": {...}, "dense": {...}}, each part present when
/// the corpus has that kind of document.
[[nodiscard]] std::string build_params_json(const ShardBuildOptions& opt, bool sparse, bool dense);

/// The manifest for finished shards (sorted by shard), with the combined corpus checksum.
[[nodiscard]] Manifest make_manifest(const ShardBuildOptions& opt, std::vector<ShardRecord> records,
                                     std::uint64_t n_docs, std::uint64_t dim, const std::string& build_params,
                                     const std::string& build_stats);

}  // namespace aftershock::worker
