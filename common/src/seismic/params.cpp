#include "aftershock/common/seismic/params.hpp"

#include "aftershock/common/error.hpp"

#include <nlohmann/json.hpp>

#include <cmath>

namespace aftershock::seismic {

std::string_view to_string(PruningStrategy p) noexcept {
    return p == PruningStrategy::global_threshold ? "global-threshold" : "fixed-size";
}
std::string_view to_string(ClusteringAlgorithm c) noexcept {
    return c == ClusteringAlgorithm::exact ? "exact" : "ii-approx";
}

PruningStrategy parse_pruning(std::string_view s) {
    if (s == "global-threshold") return PruningStrategy::global_threshold;
    if (s == "fixed-size") return PruningStrategy::fixed_size;
    throw UsageError(fmt::format("unknown pruning strategy '{}' (global-threshold or fixed-size)", s));
}

ClusteringAlgorithm parse_clustering(std::string_view s) {
    if (s == "exact") return ClusteringAlgorithm::exact;
    if (s == "ii-approx") return ClusteringAlgorithm::inverted_index_approx;
    throw UsageError(fmt::format("unknown clustering '{}' (exact or ii-approx)", s));
}

void validate(const BuildParams& p) {
    ensure<UsageError>(p.lambda > 0, "lambda must be positive");
    ensure<UsageError>(std::isfinite(p.max_fraction) && p.max_fraction >= 1.0, "max_fraction must be >= 1 (got {})",
                       p.max_fraction);
    ensure<UsageError>(std::isfinite(p.centroid_fraction) && p.centroid_fraction > 0.0 && p.centroid_fraction <= 1.0,
                       "centroid_fraction must be in (0, 1] (got {})", p.centroid_fraction);
    ensure<UsageError>(std::isfinite(p.alpha) && p.alpha > 0.0 && p.alpha <= 1.0, "alpha must be in (0, 1] (got {})",
                       p.alpha);
    ensure<UsageError>(p.doc_cut > 0, "doc_cut must be positive");
    ensure<UsageError>(p.kmeans_rounds <= 10, "kmeans_rounds must be <= 10 (got {})", p.kmeans_rounds);
    ensure<UsageError>(p.knn <= 1000, "knn must be <= 1000 (got {})", p.knn);
}

void validate(const SearchParams& p) {
    ensure<UsageError>(p.k > 0 && p.k <= 100000, "k must be in [1, 100000] (got {})", p.k);
    ensure<UsageError>(p.query_cut > 0, "query_cut must be positive");
    ensure<UsageError>(std::isfinite(p.heap_factor) && p.heap_factor >= 0.0F, "heap_factor must be finite and >= 0");
    ensure<UsageError>(std::isfinite(p.screen_factor) && p.screen_factor >= 0.0F, "screen_factor must be finite and >= 0");
}

std::string to_json(const BuildParams& p) {
    nlohmann::json j;
    j["lambda"] = p.lambda;
    j["max_fraction"] = p.max_fraction;
    j["pruning"] = std::string(to_string(p.pruning));
    j["centroid_fraction"] = p.centroid_fraction;
    j["min_cluster_size"] = p.min_cluster_size;
    j["clustering"] = std::string(to_string(p.clustering));
    j["doc_cut"] = p.doc_cut;
    j["kmeans_rounds"] = p.kmeans_rounds;
    j["alpha"] = p.alpha;
    j["knn"] = p.knn;
    j["seed"] = p.seed;
    return j.dump();
}

}  // namespace aftershock::seismic
