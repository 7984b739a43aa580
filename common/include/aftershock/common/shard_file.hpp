#pragma once
// One shard of an index directory (DESIGN.md §5): an HDF5 file holding the shard's Seismic index and/or
// its dense part (full-precision vectors plus a FAISS index), its documents' external ids and its place in
// the corpus, versioned and checksummed (docs/FORMATS.md).
#include "aftershock/common/dense/dense_index.hpp"
#include "aftershock/common/dense_store.hpp"
#include "aftershock/common/seismic/seismic_index.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aftershock {

/// 2: the /dense group (version 1 shards, sparse only, must be rebuilt). 3: fixed-length string attributes (version 2
/// wrote variable-length ones, which HDF5 1.10 follows into the global heap unchecked: refused, must be rebuilt).
/// 4: the HDF5 1.10 file format (superblock version 3, all metadata checksummed; h5::File::Mode::read_checksummed),
/// so a corrupt shard is refused by HDF5's checksums instead of crashing HDF5 (version 3 files: refused, rebuild).
/// 5: summary entries name their block in one byte when no list has more than 256 blocks (entry_block8, else
/// entry_block16), so finer blocks fit the same memory (version 4 files: refused, rebuild).
/// 6: summary entries in 3 bytes: a u8 component step (entry_step, with filler entries for longer steps) and a u16
/// block|code word (entry_word; /sparse/summaries code_bits), so 25-40% less summary memory (version 5: refused, rebuild).
inline constexpr std::uint64_t kShardFormatVersion = 6;

struct ShardMeta {
    std::uint32_t shard = 0;
    std::uint32_t n_shards = 1;
    std::uint64_t doc_begin = 0;  ///< first corpus row of the shard
    std::uint64_t doc_end = 0;    ///< one past the last corpus row
    std::string build_params;     ///< JSON
};

/// The dense part of a shard. Local row i is global document doc_begin + i.
struct DenseShard;
/// True when searches of this dense part go to brute force over its vectors (no index, or a flat one, which
/// gives the same answer more slowly): LocalIndex and the worker apply the same rule, so they answer alike.
[[nodiscard]] bool serves_dense_exactly(const DenseShard& d) noexcept;
struct DenseShard {
    DenseMatrix vectors;                      ///< the shard's corpus rows as given (full precision; metric set);
                                              ///< data is empty when they stay on disk (n, d, metric still set)
    std::shared_ptr<const DiskRows> disk;     ///< row reader when the vectors stay on disk
    dense::BuildParams params;                ///< resolved (never `automatic`); type none = vectors only
    std::optional<dense::DenseIndex> index;   ///< absent when params.type is none
};

struct Shard {
    ShardMeta meta;
    std::optional<seismic::SeismicIndex> sparse;
    std::optional<DenseShard> dense;
    std::vector<std::string> ids;  ///< external ids of the shard's documents (local order)
    std::string checksum;          ///< content checksum (set by read_shard)
};

/// "shard-00003.h5"
[[nodiscard]] std::string shard_file_name(std::uint32_t shard);

/// Writes `path` atomically: to path + ".tmp", fsync, rename, fsync of the directory. The file carries no
/// timestamps, so equal shards give equal bytes. Returns the content checksum stored in the file.
std::string write_shard(const std::string& path, const Shard& shard);

/// Reads and validates a shard: format name and version, every array's consistency, and the content
/// checksum (verified before the FAISS bytes are parsed). Throws InputError naming the file and the problem.
/// With DenseStoreMode::disk the dense vectors are streamed once (checksum, finiteness) and then read by row
/// from the file on demand (DenseShard::disk) instead of being kept in memory.
[[nodiscard]] Shard read_shard(const std::string& path, DenseStoreMode dense_store = DenseStoreMode::memory);

/// Copies the stored dense vector of local row `row` (memory or disk). Throws Error without a dense part.
[[nodiscard]] std::vector<float> dense_row(const DenseShard& d, std::size_t row);

}  // namespace aftershock
