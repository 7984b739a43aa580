#pragma once
// Fusion of per-route global candidate lists (sparse, dense, ...) into one ranking: RRF or a weighted linear
// combination of normalised scores. Inputs are the routes' *merged global* lists, never per-shard lists, so
// normalisation statistics do not depend on how the corpus is sharded. A single route with linear fusion,
// weight 1 and no normalisation returns that route's list unchanged: sparse-only and dense-only requests go
// through the same function as hybrid ones.
#include "aftershock/common/merge.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aftershock {

enum class FusionMethod { rrf, linear };
enum class Normalization { none, minmax, zscore };

[[nodiscard]] std::string_view to_string(FusionMethod m) noexcept;
[[nodiscard]] std::string_view to_string(Normalization n) noexcept;
/// "rrf" | "linear"; throws UsageError naming the value.
[[nodiscard]] FusionMethod parse_fusion_method(std::string_view s);
/// "none" | "minmax" | "zscore"; throws UsageError naming the value.
[[nodiscard]] Normalization parse_normalization(std::string_view s);

struct FusionParams {
    FusionMethod method = FusionMethod::rrf;
    double rank_constant = 60.0;                   ///< RRF: score = sum_r w_r / (rank_constant + rank_r), rank from 1
    Normalization normalization = Normalization::minmax;  ///< linear only
};

/// One route's input: its merged global list (best first) and its weight.
struct FusionRoute {
    std::span<const GlobalHit> hits;
    double weight = 1.0;
};

/// Throws UsageError when a parameter is out of range (rank_constant < 0 or not finite, weight not finite).
void validate(const FusionParams& p, std::span<const FusionRoute> routes);

/// Fuses the routes into the best k (higher fused score first, ties to the lower global doc).
/// RRF: a document absent from a route gets nothing from it. Linear: each route's scores are normalised over
/// that route's list (minmax: (s-min)/(max-min), all equal -> 1; zscore: (s-mean)/sd, sd 0 -> 0; none: as is),
/// and a document absent from a route counts as that route's lowest normalised score, as if it had been
/// retrieved last. Sums run in double in route order, so equal inputs give bit-equal outputs.
[[nodiscard]] std::vector<GlobalHit> fuse(std::span<const FusionRoute> routes, const FusionParams& params, std::size_t k);

}  // namespace aftershock
