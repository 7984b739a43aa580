#pragma once
// Dense (FAISS) index build and search parameters, with the defaults this project uses (docs/FORMATS.md).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aftershock::dense {

/// Which FAISS structure a shard's dense part gets. `none` stores the vectors only (exact search).
/// `automatic` is resolved per shard by resolve(): flat below kAutoHnswMinVectors vectors, hnsw above.
enum class IndexType { none, flat, hnsw, ivf_flat, ivf_pq, automatic };

/// Shards with at least this many vectors get HNSW under --dense-index auto; below it a flat scan is
/// both exact and fast enough (50k x 384-d is about 2 ms per query on one core).
inline constexpr std::size_t kAutoHnswMinVectors = 50000;

struct BuildParams {
    IndexType type = IndexType::automatic;
    std::uint32_t hnsw_m = 32;             ///< HNSW neighbours per node (2*M on level 0)
    std::uint32_t ef_construction = 200;   ///< HNSW candidate list while inserting
    std::uint32_t nlist = 0;               ///< IVF lists; 0 = 4*sqrt(n), at most n/39 (FAISS's training floor)
    std::uint32_t pq_m = 0;                ///< PQ sub-quantizers; 0 = d/4 rounded down to a divisor of d
    std::uint32_t pq_nbits = 8;            ///< bits per PQ code
    std::uint32_t train_per_list = 64;     ///< IVF training sample: train_per_list * nlist vectors (seeded)
    std::uint64_t seed = 42;               ///< training sample and k-means seeds
};

/// Query-time knobs; each applies only to the index types that have it.
struct SearchParams {
    std::size_t k = 10;
    std::uint32_t ef_search = 64;          ///< HNSW candidate list (raised to k when smaller)
    std::uint32_t nprobe = 16;             ///< IVF lists visited (capped at nlist)
};

[[nodiscard]] std::string_view to_string(IndexType t) noexcept;
/// Parses "none" | "flat" | "hnsw" | "ivf-flat" | "ivf-pq" | "auto"; throws UsageError.
[[nodiscard]] IndexType parse_index_type(std::string_view s);
/// Throws UsageError naming the first parameter out of range.
void validate(const BuildParams& p);
void validate(const SearchParams& p);
/// The concrete parameters for a shard of n vectors of dimension d: `automatic`, nlist 0 and pq_m 0 are
/// replaced by their values. Throws UsageError when the type cannot be trained on n vectors.
[[nodiscard]] BuildParams resolve(const BuildParams& p, std::size_t n, std::size_t d);
/// One-line JSON of the parameters (stored in shard files and manifests); from_json reads it back.
[[nodiscard]] std::string to_json(const BuildParams& p);
[[nodiscard]] BuildParams from_json(const std::string& text);

}  // namespace aftershock::dense
