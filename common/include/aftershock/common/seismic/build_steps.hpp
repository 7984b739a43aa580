#pragma once
// The steps of a Seismic build, exposed one by one so each can be tested against hand-computed cases:
// static pruning -> clustering of each list into blocks -> alpha-mass summaries -> u8 quantization.
#include "aftershock/common/seismic/forward_index.hpp"
#include "aftershock/common/seismic/params.hpp"

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace aftershock::seismic {

/// Term-major kept postings; inside a list docs are in decreasing value order (ties: lower doc first).
struct PrunedLists {
    std::vector<std::uint64_t> offsets;  ///< dim + 1
    std::vector<DocIndex> docs;
    [[nodiscard]] std::span<const DocIndex> list(std::size_t term) const noexcept {
        return {docs.data() + offsets[term], offsets[term + 1] - offsets[term]};
    }
};

/// Static pruning (SEISMIC.md §1.2). Global threshold keeps the dim*lambda largest entries of the whole
/// collection (ties at the threshold admitted in term, then doc order until the budget is spent), then
/// caps every list at floor(lambda * max_fraction); fixed size keeps the top lambda of every list.
[[nodiscard]] PrunedLists prune_lists(const CsrMatrix& docs, const BuildParams& params);

/// Reusable per-thread buffers of the clustering and summary steps (dim-sized, kept zeroed).
struct BuildScratch {
    std::vector<float> dense;               ///< dim
    std::vector<std::uint32_t> touched;
    std::vector<float> centroid_scores;
    std::vector<std::uint32_t> centroid_touched;
    std::vector<std::uint32_t> head;        ///< dim: first centroid posting of a component, or UINT32_MAX
    std::vector<std::uint32_t> head_touched;
    std::vector<std::pair<float, std::uint32_t>> doc_components;
};

/// Most blocks one list is split into: a summary entry's 16 bits hold the block number and a code of at least 4
/// bits, and the block field's all-ones value marks a filler entry.
inline constexpr std::uint32_t kMaxBlocksPerList = 4095;

/// Bits of a summary code in an index whose longest list has `max_blocks` blocks: 8 (the paper's u8) while the
/// block numbers and the filler value fit in 8 bits, else what 16 bits leave beside them (4..7).
[[nodiscard]] std::uint32_t summary_code_bits(std::uint64_t max_blocks) noexcept;

/// Shallow random k-means of one list (SEISMIC.md §1.3): sample n_blocks = max(1, floor(cf*|L|)) docs (at most
/// kMaxBlocksPerList) as centroids, assign every doc to its max-inner-product centroid (exact, or over its top doc_cut
/// components), dissolve clusters of size <= min_cluster_size into the surviving ones. Then params.kmeans_rounds
/// rounds (ours; 0 by default) that make each surviving cluster's mean vector its centroid and assign and dissolve
/// again. Blocks are ordered by centroid doc (the sampled one), docs inside a block by doc index. Deterministic for a
/// given seed.
[[nodiscard]] std::vector<std::vector<DocIndex>> cluster_list(std::span<const DocIndex> list, const ForwardIndex& fwd,
                                                              const BuildParams& params, std::uint64_t seed,
                                                              BuildScratch& scratch);

/// (component, value) pairs of a block's coordinate-wise maximum, in first-seen order (unsorted: the
/// alpha-mass step orders what it keeps).
[[nodiscard]] std::vector<std::pair<std::uint32_t, float>> block_max_vector(std::span<const DocIndex> block,
                                                                            const ForwardIndex& fwd,
                                                                            BuildScratch& scratch);

/// Keeps the shortest prefix, by decreasing value (ties: lower component first), whose running sum
/// reaches alpha * (sum of all values), including the entry that crosses; returns it by ascending component.
[[nodiscard]] std::vector<std::pair<std::uint32_t, float>> alpha_mass_prune(
    std::vector<std::pair<std::uint32_t, float>> entries, double alpha);

/// Scalar quantization of one summary: min m, max M, quant = (M - m) / 256,
/// code = clamp(floor((v - m) / quant), 0, 255); quant == 0 gives code 0. Decoded as code * quant + m.
/// With b < 8 code bits the index keeps code >> (8 - b) and quant * 2^(8 - b): exactly the b-bit quantization
/// floor((v - m) / (quant * 2^(8 - b))), up to the float rounding of the division.
struct Quantized {
    std::vector<std::uint8_t> codes;
    float min = 0.0F;
    float quant = 0.0F;
};
[[nodiscard]] Quantized quantize(std::span<const float> values);

/// 64-bit mixing (splitmix64): seeds per list and per document, so results do not depend on thread count.
[[nodiscard]] constexpr std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t z = a + 0x9E3779B97F4A7C15ULL * (b + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

}  // namespace aftershock::seismic
