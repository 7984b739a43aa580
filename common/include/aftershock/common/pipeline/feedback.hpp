#pragma once
// The pure arithmetic of the retrieval pipelines (issue 9): interpolation of two score lists, dense
// Vector-PRF and sparse term-expansion PRF. No I/O: the coordinator and `aftershock search` call the same
// functions on the same global inputs, which is what makes their answers identical.
#include "aftershock/common/fusion.hpp"
#include "aftershock/common/merge.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace aftershock::pipeline {

/// A sparse vector with strictly ascending indices.
struct SparseVector {
    std::vector<std::uint32_t> indices;
    std::vector<float> values;
    friend bool operator==(const SparseVector&, const SparseVector&) = default;
};

/// (1 - weight) * norm(a) + weight * norm(b) over the union of the two lists, best k first. A document absent
/// from one list counts as that list's lowest normalised score (as fuse() does). Throws UsageError for a
/// weight outside [0, 1].
[[nodiscard]] std::vector<GlobalHit> interpolate(std::span<const GlobalHit> a, std::span<const GlobalHit> b, double weight,
                                                 Normalization normalization, std::size_t k);

/// Re-ranking: `candidates` (the sparse list, best first) and `dense` (doc, exact dense score) for the
/// candidates that could be scored, in any order. Returns the best k of the interpolation.
[[nodiscard]] std::vector<GlobalHit> rerank(std::span<const GlobalHit> candidates, std::span<const GlobalHit> dense,
                                            double weight, Normalization normalization, std::size_t k);

/// Vector-PRF (Li et al.): alpha * q + beta * mean(docs), summed in double in the order given. With no
/// feedback document q is returned scaled by alpha. Throws InputError when a row's dimension differs from q's.
[[nodiscard]] std::vector<float> vector_prf(std::span<const float> query, std::span<const std::vector<float>> docs,
                                            double alpha, double beta);

/// The `terms` heaviest components of the mean of `docs` (ties to the lower term), ascending by term.
[[nodiscard]] SparseVector top_terms(std::span<const SparseVector> docs, std::size_t terms);

/// Sparse PRF: alpha * q / |q|_1 + beta * e / |e|_1 with e = top_terms(docs, terms): the L1 normalisation makes
/// alpha and beta mixing weights whatever the scale of query and document weights (as RM3's original-query
/// weight). Components whose sum is 0 are dropped. Returns the query unchanged when e is empty.
[[nodiscard]] SparseVector sparse_prf(const SparseVector& query, std::span<const SparseVector> docs, std::size_t terms,
                                      double alpha, double beta);

}  // namespace aftershock::pipeline
