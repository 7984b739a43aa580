#pragma once
// Exact top-K for every query of a corpus: the reference that recall is measured against.
#include "aftershock/common/corpus.hpp"

#include <string_view>

namespace aftershock {

/// Which vectors a search uses.
enum class SearchMode { sparse, dense };
[[nodiscard]] std::string_view to_string(SearchMode m) noexcept;
/// Parses "sparse" | "dense"; throws UsageError.
[[nodiscard]] SearchMode parse_search_mode(std::string_view s);

/// Exact top-k of every query (multi-threaded). Rows with fewer than k matching documents are padded with
/// neighbor -1. distances hold the ranking score: the similarity for sparse, ip and cosine, and the L2
/// distance for l2 (as in ann-benchmarks files).
[[nodiscard]] GroundTruth compute_groundtruth(const Corpus& corpus, SearchMode mode, std::size_t k, unsigned threads);

}  // namespace aftershock
