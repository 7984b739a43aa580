#pragma once
// Seismic build and search parameters (SEISMIC.md §1.8 and §2), with the defaults this project uses.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace aftershock::seismic {

enum class PruningStrategy {
    global_threshold,  ///< top dim*lambda entries of the whole collection, lists capped at lambda*max_fraction
    fixed_size,        ///< top-lambda entries of every list
};

enum class ClusteringAlgorithm {
    exact,                ///< RandomKmeans: every document scored exactly against every centroid of its list
    inverted_index_approx ///< RandomKmeansInvertedIndexApprox: score only the document's top doc_cut components
};

struct BuildParams {
    std::uint32_t lambda = 1000;          ///< n_postings: average kept postings per list
    double max_fraction = 1.5;            ///< cap of a list at floor(lambda * max_fraction)
    PruningStrategy pruning = PruningStrategy::global_threshold;
    double centroid_fraction = 0.1;       ///< beta / lambda: blocks per list = max(1, floor(cf * |list|))
    std::uint32_t min_cluster_size = 2;   ///< clusters of this size or smaller are dissolved
    ClusteringAlgorithm clustering = ClusteringAlgorithm::inverted_index_approx;
    std::uint32_t doc_cut = 15;           ///< components of a document used by the approximate clustering
    /// Ours, not in the paper: k-means rounds after the random centroids. Each round makes every cluster's mean its
    /// centroid and assigns the list's documents again (same doc_cut rule, small clusters dissolved again). 0 = the
    /// paper's shallow clustering.
    std::uint32_t kmeans_rounds = 0;
    double alpha = 0.4;                   ///< summary_energy: fraction of the L1 mass kept in a block summary
    std::uint32_t knn = 0;                ///< kappa: neighbours per document in the optional kNN graph (0 = none)
    std::uint64_t seed = 42;
    unsigned threads = 0;                 ///< 0 = all cores
};

/// SearchParams::knn: as many neighbours per result as the index's kNN graph holds.
inline constexpr std::uint32_t kAllNeighbours = std::numeric_limits<std::uint32_t>::max();

struct SearchParams {
    std::size_t k = 10;
    std::uint32_t query_cut = 10;         ///< only the lists of the query_cut largest query components are walked
    float heap_factor = 0.7F;             ///< skip a block iff heap is full and summary score < heap_factor * theta
    /// Neighbours per result used for kNN refinement: 0 = off; by default every neighbour the index's graph holds
    /// (none when it was built without one), so that an index built with --knn is searched with it.
    std::uint32_t knn = kAllNeighbours;
    bool first_sorted = false;            ///< visit the first list's blocks in decreasing summary score
    // Screening (ours, not in the paper): in an evaluated block, a document is first scored on its
    // screen_entries heaviest entries only and dropped if that partial score < screen_factor * theta. Scoring
    // touches the first cache lines of a document; the rest is read only for documents that pass. 0 = off; it
    // also stays off on an index whose documents are not stored heaviest first (shards built before it).
    // Where the CPU has AVX-512 (F, BW) the partial score is an estimate from bfloat16 query weights held in registers
    // (ScreeningTable); a document that passes is then scored exactly.
    std::uint32_t screen_entries = 48;
    float screen_factor = 0.7F;
    /// With screening: each document's prefix is requested from memory this many documents ahead of the one screened,
    /// across a list's open blocks; 0 = the prefixes of the whole next block at once. The hits and the work are the
    /// same either way; which is faster depends on the settings (docs/BENCHMARKS.md, session 21: 8 was ~20% faster at
    /// query_cut 12, heap_factor 0.6 on a Zen 3 VM, 10-20% slower at query_cut 9-10, heap_factor 0.7-0.8).
    std::uint32_t prefix_lead = 0;
};

[[nodiscard]] std::string_view to_string(PruningStrategy p) noexcept;
[[nodiscard]] std::string_view to_string(ClusteringAlgorithm c) noexcept;
/// Parses "global-threshold" | "fixed-size"; throws UsageError.
[[nodiscard]] PruningStrategy parse_pruning(std::string_view s);
/// Parses "exact" | "ii-approx"; throws UsageError.
[[nodiscard]] ClusteringAlgorithm parse_clustering(std::string_view s);
/// Throws UsageError naming the first parameter out of range.
void validate(const BuildParams& p);
void validate(const SearchParams& p);
/// One-line JSON of the parameters (stored in shard files and manifests).
[[nodiscard]] std::string to_json(const BuildParams& p);

}  // namespace aftershock::seismic
