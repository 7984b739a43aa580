#include "aftershock/common/pipeline/feedback.hpp"

#include "aftershock/common/error.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace aftershock::pipeline {

std::vector<GlobalHit> interpolate(std::span<const GlobalHit> a, std::span<const GlobalHit> b, double weight,
                                   Normalization normalization, std::size_t k) {
    ensure<UsageError>(std::isfinite(weight) && weight >= 0.0 && weight <= 1.0, "interpolation weight {} must be in [0, 1]",
                       weight);
    const std::vector<FusionRoute> routes{{a, 1.0 - weight}, {b, weight}};
    return fuse(routes, FusionParams{FusionMethod::linear, 60.0, normalization}, k);
}

std::vector<GlobalHit> rerank(std::span<const GlobalHit> candidates, std::span<const GlobalHit> dense, double weight,
                              Normalization normalization, std::size_t k) {
    std::vector<GlobalHit> sorted(dense.begin(), dense.end());
    std::sort(sorted.begin(), sorted.end(), [](const GlobalHit& x, const GlobalHit& y) { return ranks_before(x, y); });
    return interpolate(candidates, sorted, weight, normalization, k);
}

std::vector<float> vector_prf(std::span<const float> query, std::span<const std::vector<float>> docs, double alpha,
                              double beta) {
    std::vector<double> mean(query.size(), 0.0);
    for (const auto& d : docs) {
        ensure<InputError>(d.size() == query.size(), "vector PRF: a feedback vector has dimension {}, the query {}",
                           d.size(), query.size());
        for (std::size_t i = 0; i < d.size(); ++i) mean[i] += d[i];
    }
    std::vector<float> out(query.size());
    const double n = docs.empty() ? 1.0 : static_cast<double>(docs.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = static_cast<float>(alpha * query[i] + (docs.empty() ? 0.0 : beta * mean[i] / n));
    }
    return out;
}

SparseVector top_terms(std::span<const SparseVector> docs, std::size_t terms) {
    std::map<std::uint32_t, double> sum;  // ordered: summation order and tie-breaks do not depend on hashing
    for (const auto& d : docs) {
        for (std::size_t i = 0; i < d.indices.size(); ++i) sum[d.indices[i]] += d.values[i];
    }
    std::vector<std::pair<std::uint32_t, double>> all(sum.begin(), sum.end());
    const auto heavier = [](const auto& x, const auto& y) { return x.second > y.second || (x.second == y.second && x.first < y.first); };
    const auto keep = std::min(terms, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), heavier);
    all.resize(keep);
    std::sort(all.begin(), all.end());
    SparseVector out;
    const double n = static_cast<double>(std::max<std::size_t>(docs.size(), 1));
    for (const auto& [t, w] : all) {
        if (w <= 0.0) continue;  // a non-positive mean weight cannot help a query
        out.indices.push_back(t);
        out.values.push_back(static_cast<float>(w / n));
    }
    return out;
}

SparseVector sparse_prf(const SparseVector& query, std::span<const SparseVector> docs, std::size_t terms, double alpha,
                        double beta) {
    const auto e = top_terms(docs, terms);
    if (e.indices.empty()) return query;
    const auto l1 = [](const SparseVector& v) {
        double s = 0.0;
        for (float x : v.values) s += std::abs(x);
        return s > 0.0 ? s : 1.0;
    };
    const double nq = l1(query);
    const double ne = l1(e);
    std::map<std::uint32_t, double> mix;
    for (std::size_t i = 0; i < query.indices.size(); ++i) mix[query.indices[i]] += alpha * query.values[i] / nq;
    for (std::size_t i = 0; i < e.indices.size(); ++i) mix[e.indices[i]] += beta * e.values[i] / ne;
    SparseVector out;
    for (const auto& [t, w] : mix) {
        const auto f = static_cast<float>(w);
        if (f == 0.0F) continue;
        out.indices.push_back(t);
        out.values.push_back(f);
    }
    return out;
}

}  // namespace aftershock::pipeline
