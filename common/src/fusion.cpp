#include "aftershock/common/fusion.hpp"

#include "aftershock/common/error.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace aftershock {

std::string_view to_string(FusionMethod m) noexcept { return m == FusionMethod::rrf ? "rrf" : "linear"; }

std::string_view to_string(Normalization n) noexcept {
    switch (n) {
    case Normalization::none: return "none";
    case Normalization::minmax: return "minmax";
    case Normalization::zscore: return "zscore";
    }
    return "?";
}

FusionMethod parse_fusion_method(std::string_view s) {
    if (s == "rrf") return FusionMethod::rrf;
    if (s == "linear") return FusionMethod::linear;
    throw UsageError("unknown fusion method '" + std::string(s) + "' (expected rrf or linear)");
}

Normalization parse_normalization(std::string_view s) {
    if (s == "none") return Normalization::none;
    if (s == "minmax") return Normalization::minmax;
    if (s == "zscore") return Normalization::zscore;
    throw UsageError("unknown normalization '" + std::string(s) + "' (expected none, minmax or zscore)");
}

void validate(const FusionParams& p, std::span<const FusionRoute> routes) {
    ensure<UsageError>(std::isfinite(p.rank_constant) && p.rank_constant >= 0.0,
                       "fusion rank_constant must be a finite number >= 0");
    for (const auto& r : routes) ensure<UsageError>(std::isfinite(r.weight), "fusion weights must be finite numbers");
}

namespace {

/// Per-route affine map s -> (s - shift) * scale, and the value given to documents the route did not retrieve.
struct RouteNorm {
    double shift = 0.0;
    double scale = 1.0;
    double absent = 0.0;
    bool constant = false;  ///< minmax over equal scores: every retrieved document maps to 1
    [[nodiscard]] double apply(float s) const noexcept { return constant ? 1.0 : (s - shift) * scale; }
};

RouteNorm route_norm(std::span<const GlobalHit> hits, Normalization n) {
    RouteNorm rn;
    if (hits.empty()) return rn;
    double lo = hits.front().score;
    double hi = lo;
    double sum = 0.0;
    for (const auto& h : hits) {
        lo = std::min<double>(lo, h.score);
        hi = std::max<double>(hi, h.score);
        sum += h.score;
    }
    switch (n) {
    case Normalization::none: break;
    case Normalization::minmax:
        if (hi > lo) {
            rn.shift = lo;
            rn.scale = 1.0 / (hi - lo);
        } else {
            rn.constant = true;
        }
        break;
    case Normalization::zscore: {
        const double mean = sum / static_cast<double>(hits.size());
        double var = 0.0;
        for (const auto& h : hits) var += (h.score - mean) * (h.score - mean);
        const double sd = std::sqrt(var / static_cast<double>(hits.size()));
        rn.shift = mean;
        rn.scale = sd > 0.0 ? 1.0 / sd : 0.0;
        break;
    }
    }
    rn.absent = rn.constant ? 1.0 : (lo - rn.shift) * rn.scale;
    return rn;
}

}  // namespace

std::vector<GlobalHit> fuse(std::span<const FusionRoute> routes, const FusionParams& params, std::size_t k) {
    validate(params, routes);
    // Fused score per document, accumulated route by route (a document first seen in route r > 0 first gets
    // the absent contributions of routes 0..r-1 so every sum runs in the same order).
    std::unordered_map<std::uint64_t, std::size_t> slot;
    std::vector<std::uint64_t> docs;
    std::vector<std::vector<double>> parts;  // parts[doc slot][route]
    std::vector<RouteNorm> norms;
    for (const auto& r : routes) norms.push_back(route_norm(r.hits, params.normalization));
    for (std::size_t ri = 0; ri < routes.size(); ++ri) {
        const auto& hits = routes[ri].hits;
        for (std::size_t rank = 0; rank < hits.size(); ++rank) {
            auto [it, fresh] = slot.try_emplace(hits[rank].doc, docs.size());
            if (fresh) {
                docs.push_back(hits[rank].doc);
                parts.emplace_back(routes.size(), std::nan(""));
            }
            auto& cell = parts[it->second][ri];
            if (!std::isnan(cell)) continue;  // a duplicate inside one route keeps its best rank
            cell = params.method == FusionMethod::rrf ? 1.0 / (params.rank_constant + static_cast<double>(rank + 1))
                                                      : norms[ri].apply(hits[rank].score);
        }
    }
    std::vector<GlobalHit> fused;
    fused.reserve(docs.size());
    for (std::size_t d = 0; d < docs.size(); ++d) {
        double total = 0.0;
        for (std::size_t ri = 0; ri < routes.size(); ++ri) {
            double v = parts[d][ri];
            if (std::isnan(v)) v = params.method == FusionMethod::rrf ? 0.0 : norms[ri].absent;
            total += routes[ri].weight * v;
        }
        fused.push_back({docs[d], static_cast<float>(total)});
    }
    const auto n = std::min(k, fused.size());
    std::partial_sort(fused.begin(), fused.begin() + static_cast<std::ptrdiff_t>(n), fused.end(),
                      [](const GlobalHit& a, const GlobalHit& b) { return ranks_before(a, b); });
    fused.resize(n);
    return fused;
}

}  // namespace aftershock
