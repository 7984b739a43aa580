#include "aftershock/common/seismic/build_steps.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/parallel.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>

namespace aftershock::seismic {
namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

/// A small deterministic generator: the standard distributions are not portable across libraries.
class SplitMix {
public:
    explicit SplitMix(std::uint64_t seed) : m_state(seed) {}
    std::uint64_t next() noexcept {
        m_state += 0x9E3779B97F4A7C15ULL;
        return mix_seed(m_state, 0);
    }
    std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }

private:
    std::uint64_t m_state;
};

}  // namespace

PrunedLists prune_lists(const CsrMatrix& docs, const BuildParams& params) {
    const auto dim = docs.dim;
    const auto nnz = docs.nnz();
    // Term-major copy of every posting, docs ascending inside a term.
    std::vector<std::uint64_t> term_offsets(dim + 1, 0);
    for (auto t : docs.indices) ++term_offsets[t + 1];
    std::partial_sum(term_offsets.begin(), term_offsets.end(), term_offsets.begin());
    std::vector<DocIndex> term_docs(nnz);
    std::vector<float> term_values(nnz);
    {
        std::vector<std::uint64_t> fill(term_offsets.begin(), term_offsets.end() - 1);
        for (std::size_t d = 0; d < docs.n_rows(); ++d) {
            for (auto j = docs.indptr[d]; j < docs.indptr[d + 1]; ++j) {
                const auto pos = fill[docs.indices[j]]++;
                term_docs[pos] = static_cast<DocIndex>(d);
                term_values[pos] = docs.data[j];
            }
        }
    }
    std::vector<std::uint8_t> keep(nnz, 1);
    std::uint64_t cap = params.lambda;
    if (params.pruning == PruningStrategy::global_threshold) {
        const std::uint64_t budget = dim * std::uint64_t{params.lambda};
        if (budget < nnz) {
            std::vector<float> sorted = term_values;
            std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(budget - 1), sorted.end(),
                             std::greater<>());
            const float theta = sorted[budget - 1];
            std::uint64_t above = 0;
            for (float v : term_values) above += v > theta ? 1 : 0;
            std::uint64_t ties = budget - above;
            for (std::uint64_t i = 0; i < nnz; ++i) {
                const float v = term_values[i];
                const bool tie_admitted = v == theta && ties > 0;
                keep[i] = v > theta || tie_admitted ? 1 : 0;
                if (tie_admitted) --ties;
            }
        }
        cap = static_cast<std::uint64_t>(std::floor(static_cast<double>(params.lambda) * params.max_fraction));
    }
    std::vector<std::vector<DocIndex>> lists(dim);
    parallel_for(dim, params.threads, 256, [&](unsigned, std::size_t begin, std::size_t end) {
        std::vector<std::pair<float, DocIndex>> kept;
        for (auto t = begin; t < end; ++t) {
            kept.clear();
            for (auto i = term_offsets[t]; i < term_offsets[t + 1]; ++i) {
                if (keep[i] != 0) kept.emplace_back(term_values[i], term_docs[i]);
            }
            const auto by_value = [](const auto& a, const auto& b) {
                return a.first > b.first || (a.first == b.first && a.second < b.second);
            };
            if (kept.size() > cap) {
                std::partial_sort(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(cap), kept.end(), by_value);
                kept.resize(cap);
            } else {
                std::sort(kept.begin(), kept.end(), by_value);
            }
            lists[t].reserve(kept.size());
            for (const auto& [v, d] : kept) lists[t].push_back(d);
        }
    });
    PrunedLists out;
    out.offsets.assign(dim + 1, 0);
    for (std::size_t t = 0; t < dim; ++t) out.offsets[t + 1] = out.offsets[t] + lists[t].size();
    out.docs.reserve(out.offsets.back());
    for (auto& l : lists) {
        out.docs.insert(out.docs.end(), l.begin(), l.end());
        std::vector<DocIndex>().swap(l);
    }
    return out;
}

namespace {

/// Inverted index over the centroids of one list: component -> (centroid, value).
struct CentroidIndex {
    std::vector<std::uint32_t> starts;  ///< per compact component, +1 sentinel
    std::vector<std::uint32_t> centroid;
    std::vector<float> value;
};

void ensure_scratch(BuildScratch& s, std::uint64_t dim) {
    if (s.dense.size() != dim) {
        s.dense.assign(dim, 0.0F);
        s.head.assign(dim, kNone);
    }
}

using CentroidEntries = std::vector<std::tuple<std::uint32_t, std::uint32_t, float>>;  ///< (component, centroid, value)

/// The index of (component, centroid, value) entries; s.head then maps a component to its first entry.
CentroidIndex index_entries(CentroidEntries& triples, BuildScratch& s) {
    for (auto c : s.head_touched) s.head[c] = kNone;
    s.head_touched.clear();
    std::sort(triples.begin(), triples.end());
    CentroidIndex ci;
    ci.centroid.reserve(triples.size());
    ci.value.reserve(triples.size());
    for (std::size_t i = 0; i < triples.size(); ++i) {
        const auto [c, j, v] = triples[i];
        if (i == 0 || std::get<0>(triples[i - 1]) != c) {
            s.head[c] = static_cast<std::uint32_t>(ci.starts.size());
            s.head_touched.push_back(c);
            ci.starts.push_back(static_cast<std::uint32_t>(i));
        }
        ci.centroid.push_back(j);
        ci.value.push_back(v);
    }
    ci.starts.push_back(static_cast<std::uint32_t>(triples.size()));
    return ci;
}

/// Centroids that are documents of the list (the paper's random sample).
CentroidIndex index_centroids(std::span<const DocIndex> centroids, const ForwardIndex& fwd, BuildScratch& s) {
    CentroidEntries triples;
    for (std::uint32_t j = 0; j < centroids.size(); ++j) {
        const auto p = fwd.posting(centroids[j]);
        for (std::uint64_t i = posting_offset(p); i < posting_offset(p) + posting_length(p); ++i) {
            triples.emplace_back(fwd.component(i), j, fwd.value(i));
        }
    }
    return index_entries(triples, s);
}

/// Centroids that are the mean vectors of the allowed clusters of `assignment` (a refinement round).
CentroidIndex index_means(std::span<const DocIndex> list, std::span<const std::uint32_t> assignment,
                          const std::vector<std::uint8_t>& allowed, const ForwardIndex& fwd, BuildScratch& s) {
    std::vector<std::vector<DocIndex>> members(allowed.size());
    for (std::size_t i = 0; i < list.size(); ++i) members[assignment[i]].push_back(list[i]);
    CentroidEntries triples;
    for (std::uint32_t j = 0; j < members.size(); ++j) {
        if (allowed[j] == 0 || members[j].empty()) continue;
        for (const auto d : members[j]) {
            const auto p = fwd.posting(d);
            for (std::uint64_t i = posting_offset(p); i < posting_offset(p) + posting_length(p); ++i) {
                const auto c = fwd.component(i);
                if (s.dense[c] == 0.0F) s.touched.push_back(c);
                s.dense[c] += fwd.value(i);
            }
        }
        const auto size = static_cast<float>(members[j].size());
        for (const auto c : s.touched) {
            triples.emplace_back(c, j, s.dense[c] / size);
            s.dense[c] = 0.0F;
        }
        s.touched.clear();
    }
    return index_entries(triples, s);
}

/// Best centroid of a document among the allowed ones: max score, ties to the last centroid (as Rust's
/// max_by); the first allowed centroid when none shares a component.
std::uint32_t assign(DocIndex doc, const ForwardIndex& fwd, const CentroidIndex& ci, const std::vector<std::uint8_t>& allowed,
                     std::uint32_t doc_cut, BuildScratch& s) {
    const auto p = fwd.posting(doc);
    const auto off = posting_offset(p);
    const auto len = posting_length(p);
    auto& comps = s.doc_components;
    comps.clear();
    for (std::uint64_t i = off; i < off + len; ++i) comps.emplace_back(fwd.value(i), fwd.component(i));
    if (comps.size() > doc_cut) {
        std::partial_sort(comps.begin(), comps.begin() + doc_cut, comps.end(),
                          [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
        comps.resize(doc_cut);
    }
    for (const auto& [v, c] : comps) {
        const auto k = s.head[c];
        if (k == kNone) continue;
        for (auto e = ci.starts[k]; e < ci.starts[k + 1]; ++e) {
            const auto j = ci.centroid[e];
            if (allowed[j] == 0) continue;
            if (s.centroid_scores[j] == 0.0F) s.centroid_touched.push_back(j);
            s.centroid_scores[j] += v * ci.value[e];
        }
    }
    std::uint32_t best = kNone;
    float best_score = -1.0F;
    for (auto j : s.centroid_touched) {
        const float sc = s.centroid_scores[j];
        if (sc > best_score || (sc == best_score && j > best)) {
            best = j;
            best_score = sc;
        }
        s.centroid_scores[j] = 0.0F;
    }
    s.centroid_touched.clear();
    if (best == kNone) best = static_cast<std::uint32_t>(std::find(allowed.begin(), allowed.end(), 1) - allowed.begin());
    return best;
}

}  // namespace

std::vector<std::vector<DocIndex>> cluster_list(std::span<const DocIndex> list, const ForwardIndex& fwd,
                                                const BuildParams& params, std::uint64_t seed, BuildScratch& s) {
    const std::size_t n = list.size();
    std::size_t n_blocks = std::max<std::size_t>(1, static_cast<std::size_t>(std::floor(params.centroid_fraction * double(n))));
    n_blocks = std::min<std::size_t>(n_blocks, kMaxBlocksPerList);
    if (n_blocks <= 1) {
        std::vector<DocIndex> all(list.begin(), list.end());
        std::sort(all.begin(), all.end());
        return {all};
    }
    ensure_scratch(s, fwd.dim());
    // Sample n_blocks distinct docs (partial Fisher-Yates): each sampled doc's own vector is a centroid.
    SplitMix rng(seed);
    std::vector<std::uint32_t> pos(n);
    std::iota(pos.begin(), pos.end(), 0U);
    std::vector<DocIndex> centroids(n_blocks);
    for (std::size_t i = 0; i < n_blocks; ++i) {
        std::swap(pos[i], pos[i + rng.below(n - i)]);
        centroids[i] = list[pos[i]];
    }
    s.centroid_scores.assign(n_blocks, 0.0F);
    const std::uint32_t doc_cut =
        params.clustering == ClusteringAlgorithm::exact ? std::numeric_limits<std::uint32_t>::max() : params.doc_cut;
    std::vector<std::uint8_t> allowed(n_blocks, 1);
    std::vector<std::uint32_t> assignment(n);
    // Every document to its best allowed centroid, then small clusters dissolved into the surviving ones (if any
    // survive). Once with the sampled documents as centroids (the paper), then once per refinement round with the
    // clusters' means: a block's documents then lie closer together, so its summary ranks them better.
    const auto assign_and_dissolve = [&](const CentroidIndex& ci) {
        std::vector<std::uint32_t> sizes(n_blocks, 0);
        for (std::size_t i = 0; i < n; ++i) {
            assignment[i] = assign(list[i], fwd, ci, allowed, doc_cut, s);
            ++sizes[assignment[i]];
        }
        auto survivors = allowed;
        bool any_small = false;
        bool any_survivor = false;
        for (std::size_t j = 0; j < n_blocks; ++j) {
            const bool small = allowed[j] != 0 && sizes[j] <= params.min_cluster_size;
            if (small) survivors[j] = 0;
            any_small |= small && sizes[j] > 0;
            any_survivor |= survivors[j] != 0;
        }
        if (!any_survivor) return;
        allowed = std::move(survivors);
        if (!any_small) return;  // only empty clusters were left out
        for (std::size_t i = 0; i < n; ++i) {
            if (allowed[assignment[i]] == 0) assignment[i] = assign(list[i], fwd, ci, allowed, doc_cut, s);
        }
    };
    assign_and_dissolve(index_centroids(centroids, fwd, s));
    for (std::uint32_t round = 0; round < params.kmeans_rounds; ++round) {
        assign_and_dissolve(index_means(list, assignment, allowed, fwd, s));
    }
    for (auto c : s.head_touched) s.head[c] = kNone;
    s.head_touched.clear();
    // Blocks ordered by centroid doc, docs inside by doc index (Seismic v0.3.5).
    std::vector<std::uint32_t> order(n_blocks);
    std::iota(order.begin(), order.end(), 0U);
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return centroids[a] < centroids[b]; });
    std::vector<std::vector<DocIndex>> by_centroid(n_blocks);
    for (std::size_t i = 0; i < n; ++i) by_centroid[assignment[i]].push_back(list[i]);
    std::vector<std::vector<DocIndex>> blocks;
    for (auto j : order) {
        if (by_centroid[j].empty()) continue;
        std::sort(by_centroid[j].begin(), by_centroid[j].end());
        blocks.push_back(std::move(by_centroid[j]));
    }
    return blocks;
}

std::vector<std::pair<std::uint32_t, float>> block_max_vector(std::span<const DocIndex> block, const ForwardIndex& fwd,
                                                              BuildScratch& s) {
    ensure_scratch(s, fwd.dim());
    for (auto d : block) {
        const auto p = fwd.posting(d);
        for (std::uint64_t i = posting_offset(p); i < posting_offset(p) + posting_length(p); ++i) {
            const auto c = fwd.component(i);
            const float v = fwd.value(i);
            if (s.dense[c] == 0.0F) s.touched.push_back(c);
            s.dense[c] = std::max(s.dense[c], v);
        }
    }
    std::vector<std::pair<std::uint32_t, float>> out;
    out.reserve(s.touched.size());
    for (auto c : s.touched) {
        out.emplace_back(c, s.dense[c]);
        s.dense[c] = 0.0F;
    }
    s.touched.clear();
    return out;
}

std::vector<std::pair<std::uint32_t, float>> alpha_mass_prune(std::vector<std::pair<std::uint32_t, float>> entries,
                                                              double alpha) {
    const auto by_value = [](const auto& a, const auto& b) {
        return a.second > b.second || (a.second == b.second && a.first < b.first);
    };
    double total = 0.0;
    for (const auto& e : entries) total += e.second;
    const double target = alpha * total;
    // The kept prefix is usually a small fraction of a block's components: select the top m, sort only those,
    // and widen m in the rare case their mass falls short. Same result as a full sort.
    std::size_t m = std::min<std::size_t>(entries.size(), 64 + entries.size() / 4);
    std::size_t kept = 0;
    for (;;) {
        std::nth_element(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(m == 0 ? 0 : m - 1), entries.end(), by_value);
        std::sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(m), by_value);
        double acc = 0.0;
        kept = 0;
        while (kept < m && acc < target) acc += entries[kept++].second;
        if (acc >= target || m == entries.size()) break;
        m = std::min(entries.size(), 2 * m);
    }
    entries.resize(kept);
    std::sort(entries.begin(), entries.end());
    return entries;
}

std::uint32_t summary_code_bits(std::uint64_t max_blocks) noexcept {
    // The all-ones block field is the filler, so max_blocks real blocks need bit_width(max_blocks) bits.
    const auto block_bits = static_cast<std::uint32_t>(std::bit_width(std::max<std::uint64_t>(max_blocks, 1)));
    return std::min(8U, 16U - std::min(block_bits, 12U));
}

Quantized quantize(std::span<const float> values) {
    Quantized q;
    if (values.empty()) return q;
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    q.min = *lo;
    q.quant = (*hi - *lo) / 256.0F;
    q.codes.reserve(values.size());
    for (float v : values) {
        if (q.quant == 0.0F) {
            q.codes.push_back(0);
            continue;
        }
        // Out-of-range float -> u8 is UB in C++: clamp explicitly (Rust's `as u8` saturates).
        const float code = std::floor((v - q.min) / q.quant);
        q.codes.push_back(static_cast<std::uint8_t>(std::clamp(code, 0.0F, 255.0F)));
    }
    return q;
}

}  // namespace aftershock::seismic
