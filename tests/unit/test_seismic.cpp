// Seismic build steps against hand-computed cases, and properties of the whole index against exact search.
#include "aftershock/common/error.hpp"
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/seismic/build_steps.hpp"
#include "aftershock/common/seismic/seismic_index.hpp"
#include "aftershock/common/seismic/visited_set.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <tuple>

namespace aftershock::seismic {
namespace {

using Entries = std::vector<std::pair<std::uint32_t, float>>;

TEST(SeismicF16, ConversionsRoundTripAndRound) {
    for (float v : {0.0F, 1.0F, 0.5F, 2.443F, 65504.0F, 6.1035156e-05F, 5.9604645e-08F, -3.25F}) {
        const float back = f16_to_f32(f32_to_f16(v));
        EXPECT_NEAR(back, v, std::abs(v) * 1e-3F + 1e-8F) << v;
    }
    EXPECT_EQ(f32_to_f16(1.0F), 0x3C00);
    EXPECT_EQ(f32_to_f16(65504.0F), 0x7BFF);
    EXPECT_EQ(f32_to_f16(1e6F), 0x7C00);        // overflow saturates to inf
    EXPECT_EQ(f32_to_f16(1.0F + 1.0F / 2048), 0x3C00);  // tie rounds to even
    EXPECT_EQ(f32_to_f16(1.0F + 3.0F / 2048), 0x3C02);  // tie rounds to even (up)
    for (std::uint32_t h = 0; h < 0x7C00; ++h) {  // every finite positive half survives f32 and back
        ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<std::uint16_t>(h))), h);
    }
}

TEST(SeismicPosting, PackingKeepsOffsetAndLength) {
    const auto p = pack_posting((std::uint64_t{1} << 47) + 5, 65535);
    EXPECT_EQ(posting_offset(p), (std::uint64_t{1} << 47) + 5);
    EXPECT_EQ(posting_length(p), 65535U);
}

TEST(SeismicQuantize, HandComputedCodes) {
    // m = 1, M = 3, quant = 2/256: codes floor((v - 1) * 128), the max saturates at 255.
    const std::vector<float> v{1.0F, 2.0F, 3.0F, 1.5F};
    const auto q = quantize(v);
    EXPECT_FLOAT_EQ(q.min, 1.0F);
    EXPECT_FLOAT_EQ(q.quant, 2.0F / 256.0F);
    EXPECT_EQ(q.codes, (std::vector<std::uint8_t>{0, 128, 255, 64}));
    // All values equal: quant == 0, every code 0, decoded exactly as the min.
    const auto flat = quantize(std::vector<float>{0.7F, 0.7F});
    EXPECT_EQ(flat.quant, 0.0F);
    EXPECT_EQ(flat.codes, (std::vector<std::uint8_t>{0, 0}));
    EXPECT_TRUE(quantize(std::vector<float>{}).codes.empty());
    // Decoding never exceeds the true value (floor): the summary is biased downwards.
    for (std::size_t i = 0; i < v.size(); ++i) EXPECT_LE(q.codes[i] * q.quant + q.min, v[i] + 1e-6F);
}

TEST(SeismicQuantize, CodeBitsLeaveRoomForTheBlockNumbersAndTheFiller) {
    // The all-ones block field marks a filler: 255 blocks fit 8 bits beside an 8-bit code, 256 need a ninth.
    EXPECT_EQ(summary_code_bits(0), 8U);
    EXPECT_EQ(summary_code_bits(1), 8U);
    EXPECT_EQ(summary_code_bits(255), 8U);
    EXPECT_EQ(summary_code_bits(256), 7U);
    EXPECT_EQ(summary_code_bits(511), 7U);
    EXPECT_EQ(summary_code_bits(512), 6U);
    EXPECT_EQ(summary_code_bits(2047), 5U);
    EXPECT_EQ(summary_code_bits(kMaxBlocksPerList), 4U);
}

TEST(SeismicAlphaMass, KeepsTheCrossingEntry) {
    // Total mass 10; alpha 0.5 -> target 5: 4 (acc 4 < 5) then 3 (crosses) -> {4, 3}.
    const Entries e{{1, 1.0F}, {2, 4.0F}, {3, 3.0F}, {7, 2.0F}};
    EXPECT_EQ(alpha_mass_prune(e, 0.5), (Entries{{2, 4.0F}, {3, 3.0F}}));
    EXPECT_EQ(alpha_mass_prune(e, 0.4), (Entries{{2, 4.0F}}));           // reaches exactly 4 = target
    EXPECT_EQ(alpha_mass_prune(e, 1.0), (Entries{{1, 1.0F}, {2, 4.0F}, {3, 3.0F}, {7, 2.0F}}));
    EXPECT_EQ(alpha_mass_prune(e, 0.01), (Entries{{2, 4.0F}}));
    // Ties by value: the lower component goes first.
    EXPECT_EQ(alpha_mass_prune(Entries{{9, 1.0F}, {4, 1.0F}}, 0.5), (Entries{{4, 1.0F}}));
    EXPECT_TRUE(alpha_mass_prune({}, 0.5).empty());
}

/// Search settings of the hand-computed screening cases: the top 1 over the lists of the two heaviest query terms.
SearchParams top1_over_two_lists(float heap_factor, std::uint32_t screen_entries, float screen_factor) {
    SearchParams sp;
    sp.k = 1;
    sp.query_cut = 2;
    sp.heap_factor = heap_factor;
    sp.screen_entries = screen_entries;
    sp.screen_factor = screen_factor;
    return sp;
}

/// The ways this CPU screens prefixes: scored exactly, and estimated through the ScreeningTable where supported (always,
/// not only on the long lists that use it by default).
using ScreenTableUse = SeismicIndex::ScreenTableUse;
std::vector<ScreenTableUse> screening_modes() {
    std::vector<ScreenTableUse> table{ScreenTableUse::never};
    if (ScreeningTable::supported()) table.push_back(ScreenTableUse::always);
    return table;
}
const char* screening_mode_name(ScreenTableUse table) {
    return table == ScreenTableUse::always ? "table estimates" : "exact prefixes";
}

CsrMatrix csr(std::uint64_t dim, const std::vector<Entries>& rows) {
    CsrMatrix m;
    m.dim = dim;
    for (const auto& r : rows) {
        std::vector<std::uint32_t> idx;
        std::vector<float> val;
        for (auto [c, v] : r) {
            idx.push_back(c);
            val.push_back(v);
        }
        m.append_row(idx, val);
    }
    return m;
}

TEST(SeismicAlphaMass, SelectionMatchesAFullSort) {
    std::mt19937 rng(3);
    std::lognormal_distribution<float> val(-1.0F, 1.2F);
    for (int trial = 0; trial < 200; ++trial) {
        Entries e;
        const auto n = static_cast<std::uint32_t>(rng() % 3000);
        for (std::uint32_t c = 0; c < n; ++c) e.emplace_back(c * 7 % 5003, std::round(val(rng) * 8.0F) / 8.0F + 0.125F);
        const double alpha = (trial % 10 + 1) / 10.0;
        auto sorted = e;
        std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
        double total = 0;
        for (auto& x : e) total += x.second;
        double acc = 0;
        std::size_t kept = 0;
        while (kept < sorted.size() && acc < alpha * total) acc += sorted[kept++].second;
        sorted.resize(kept);
        std::sort(sorted.begin(), sorted.end());
        ASSERT_EQ(alpha_mass_prune(e, alpha), sorted) << "trial " << trial;
    }
}

TEST(SeismicPruning, GlobalThresholdAndCap) {
    // dim 2, lambda 2 -> keep the 4 largest of all 6 entries, then cap lists at floor(2 * 1.5) = 3.
    const auto docs = csr(2, {{{0, 5.0F}, {1, 1.0F}}, {{0, 4.0F}, {1, 2.0F}}, {{0, 3.0F}, {1, 6.0F}}});
    BuildParams p;
    p.lambda = 2;
    p.max_fraction = 1.5;
    const auto pruned = prune_lists(docs, p);
    EXPECT_EQ(std::vector<DocIndex>(pruned.list(0).begin(), pruned.list(0).end()), (std::vector<DocIndex>{0, 1, 2}));
    EXPECT_EQ(std::vector<DocIndex>(pruned.list(1).begin(), pruned.list(1).end()), (std::vector<DocIndex>{2}));
    // Cap 1 (max_fraction 0.5 is invalid, so use fixed size): top-1 of each list.
    p.pruning = PruningStrategy::fixed_size;
    p.lambda = 1;
    const auto fixed = prune_lists(docs, p);
    EXPECT_EQ(fixed.list(0)[0], 0U);
    EXPECT_EQ(fixed.list(1)[0], 2U);
    EXPECT_EQ(fixed.docs.size(), 2U);
}

TEST(SeismicPruning, TiesAtTheThresholdFillTheBudgetInOrder) {
    const auto docs = csr(2, {{{0, 1.0F}, {1, 1.0F}}, {{0, 1.0F}, {1, 1.0F}}});
    BuildParams p;
    p.lambda = 1;  // budget 2 of 4 equal entries: term 0's two docs are admitted first
    p.max_fraction = 4;
    const auto pruned = prune_lists(docs, p);
    EXPECT_EQ(pruned.list(0).size(), 2U);
    EXPECT_EQ(pruned.list(1).size(), 0U);
}

TEST(SeismicBlocks, MaxVectorOfABlock) {
    const auto docs = csr(5, {{{0, 1.0F}, {3, 2.0F}}, {{0, 1.5F}, {4, 0.25F}}, {{3, 0.5F}}});
    const ForwardIndex fwd(docs);
    BuildScratch scratch;
    const std::vector<DocIndex> block{0, 1, 2};
    auto max = block_max_vector(block, fwd, scratch);
    std::sort(max.begin(), max.end());
    EXPECT_EQ(max, (Entries{{0, 1.5F}, {3, 2.0F}, {4, 0.25F}}));
    EXPECT_EQ(block_max_vector(std::vector<DocIndex>{2}, fwd, scratch), (Entries{{3, 0.5F}}));  // scratch reset
}

CsrMatrix random_docs(std::size_t n, std::uint32_t dim, std::mt19937& rng, std::size_t nnz_min, std::size_t nnz_max) {
    CsrMatrix m;
    m.dim = dim;
    std::uniform_int_distribution<std::size_t> nnz(nnz_min, nnz_max);
    // Skewed term popularity, like real vocabularies.
    std::vector<double> weights(dim);
    for (std::uint32_t t = 0; t < dim; ++t) weights[t] = 1.0 / (1.0 + t);
    std::discrete_distribution<std::uint32_t> term(weights.begin(), weights.end());
    std::lognormal_distribution<float> val(-1.0F, 0.8F);
    for (std::size_t r = 0; r < n; ++r) {
        std::set<std::uint32_t> terms;
        const auto k = nnz(rng);
        while (terms.size() < k) terms.insert(term(rng));
        std::vector<std::uint32_t> idx(terms.begin(), terms.end());
        std::vector<float> v;
        for (std::size_t j = 0; j < idx.size(); ++j) v.push_back(val(rng) + 1e-3F);
        m.append_row(idx, v);
    }
    return m;
}

TEST(SeismicClustering, PartitionsTheListDeterministically) {
    std::mt19937 rng(11);
    const auto docs = random_docs(400, 300, rng, 5, 30);
    const ForwardIndex fwd(docs);
    std::vector<DocIndex> list(400);
    for (DocIndex d = 0; d < 400; ++d) list[d] = 399 - d;
    for (const auto& [algo, rounds] : {std::pair{ClusteringAlgorithm::exact, 0U}, {ClusteringAlgorithm::inverted_index_approx, 0U},
                                       {ClusteringAlgorithm::exact, 2U}, {ClusteringAlgorithm::inverted_index_approx, 1U}}) {
        SCOPED_TRACE(std::to_string(rounds) + " k-means rounds");
        BuildParams p;
        p.clustering = algo;
        p.kmeans_rounds = rounds;
        p.centroid_fraction = 0.1;  // 40 centroids
        BuildScratch s1;
        BuildScratch s2;
        const auto blocks = cluster_list(list, fwd, p, 7, s1);
        EXPECT_EQ(blocks, cluster_list(list, fwd, p, 7, s2)) << "same seed, same blocks";
        EXPECT_NE(blocks, cluster_list(list, fwd, p, 8, s2)) << "the seed matters";
        EXPECT_LE(blocks.size(), 40U);
        EXPECT_GT(blocks.size(), 1U);
        std::multiset<DocIndex> seen;
        for (const auto& b : blocks) {
            EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
            EXPECT_GT(b.size(), 0U);
            seen.insert(b.begin(), b.end());
        }
        EXPECT_EQ(seen, std::multiset<DocIndex>(list.begin(), list.end())) << "every doc exactly once";
        std::size_t small = 0;
        for (const auto& b : blocks) small += b.size() <= p.min_cluster_size ? 1 : 0;
        EXPECT_EQ(small, 0U) << "clusters of size <= min_cluster_size are dissolved";
    }
    BuildParams p;
    BuildScratch s;
    const std::vector<DocIndex> tiny{5, 3};
    EXPECT_EQ(cluster_list(tiny, fwd, p, 1, s), (std::vector<std::vector<DocIndex>>{{3, 5}})) << "one block";
}

// k-means rounds by hand. Every document is a centroid (centroid_fraction 1), so the sample's order does not matter,
// and no cluster is dissolved (min_cluster_size 0). Big A = (c0: 3) draws x = (c0: 1, c1: 1) away from itself and
// from c = (c1: 2.6, c2: 1): x.A = 3 > x.c = 2.6 > x.x = 2. Round 1: A's cluster mean is (c0: 2, c1: 0.5), and
// x.mean = 2.5 < x.c = 2.6, so x joins c. Round 2: the means are A itself and (c0: 0.5, c1: 1.8, c2: 0.5); x.A = 3 >
// 2.3, so x returns to A. (Max inner product has no objective that k-means rounds must improve.)
TEST(SeismicClustering, KmeansRoundsMoveDocumentsToTheBestClusterMean) {
    const auto docs = csr(3, {{{0, 3.0F}}, {{0, 1.0F}, {1, 1.0F}}, {{1, 2.6F}, {2, 1.0F}}});  // A, x, c
    const ForwardIndex fwd(docs);
    const std::vector<DocIndex> list{0, 1, 2};
    BuildParams p;
    p.centroid_fraction = 1.0;
    p.min_cluster_size = 0;
    p.clustering = ClusteringAlgorithm::exact;
    using Blocks = std::vector<std::vector<DocIndex>>;
    const Blocks x_with_a{{0, 1}, {2}};  // blocks ordered by their centroid document
    const Blocks x_with_c{{0}, {1, 2}};
    for (const std::uint64_t seed : {1, 2, 3}) {
        BuildScratch s;
        p.kmeans_rounds = 0;
        EXPECT_EQ(cluster_list(list, fwd, p, seed, s), x_with_a) << "seed " << seed;
        p.kmeans_rounds = 1;
        EXPECT_EQ(cluster_list(list, fwd, p, seed, s), x_with_c) << "seed " << seed;
        p.kmeans_rounds = 2;
        EXPECT_EQ(cluster_list(list, fwd, p, seed, s), x_with_a) << "seed " << seed;
    }
    p.kmeans_rounds = 11;
    EXPECT_THROW(validate(p), UsageError);
    p.kmeans_rounds = 1;
    EXPECT_NE(to_json(p).find("\"kmeans_rounds\":1"), std::string::npos) << to_json(p);
}

// One k-means round against an independent double-precision k-means step: the round's blocks are the documents
// grouped by the best mean (max inner product) of the blocks without it.
TEST(SeismicClustering, OneKmeansRoundIsALloydStepOverTheShallowBlocks) {
    std::mt19937 rng(12);
    const auto docs = random_docs(600, 200, rng, 5, 30);
    const ForwardIndex fwd(docs);
    std::vector<DocIndex> list(600);
    std::iota(list.begin(), list.end(), DocIndex{0});
    BuildParams p;
    p.clustering = ClusteringAlgorithm::exact;
    p.centroid_fraction = 0.05;  // 30 centroids
    p.min_cluster_size = 0;
    BuildScratch s;
    const auto shallow = cluster_list(list, fwd, p, 5, s);
    p.kmeans_rounds = 1;
    auto refined = cluster_list(list, fwd, p, 5, s);
    const auto stored = [](float v) { return double(f16_to_f32(f32_to_f16(v))); };  // the forward index keeps f16
    std::vector<std::map<std::uint32_t, double>> means(shallow.size());
    for (std::size_t b = 0; b < shallow.size(); ++b) {
        for (const auto d : shallow[b]) {
            const auto row = docs.row(d);
            for (std::size_t e = 0; e < row.size(); ++e) {
                means[b][row.indices[e]] += stored(row.values[e]) / double(shallow[b].size());
            }
        }
    }
    std::vector<std::vector<DocIndex>> want(shallow.size());
    std::size_t near_ties = 0;
    for (const auto d : list) {
        std::vector<double> dots(means.size(), 0.0);
        const auto row = docs.row(d);
        for (std::size_t b = 0; b < means.size(); ++b) {
            for (std::size_t e = 0; e < row.size(); ++e) {
                const auto it = means[b].find(row.indices[e]);
                if (it != means[b].end()) dots[b] += stored(row.values[e]) * it->second;
            }
        }
        auto sorted = dots;
        std::sort(sorted.rbegin(), sorted.rend());
        near_ties += sorted[0] - sorted[1] <= 1e-4 * sorted[0] ? 1 : 0;
        want[std::max_element(dots.begin(), dots.end()) - dots.begin()].push_back(d);
    }
    ASSERT_EQ(near_ties, 0U) << "the data must give every document one clear best mean";
    std::erase_if(want, [](const auto& b) { return b.empty(); });
    std::sort(want.begin(), want.end());
    std::sort(refined.begin(), refined.end());
    EXPECT_EQ(refined, want);
    EXPECT_NE(refined, [&] { auto b = shallow; std::sort(b.begin(), b.end()); return b; }()) << "the round moved documents";
}

std::vector<Hit> exact_f16(const CsrMatrix& docs, const SparseView& q, std::size_t k) {
    CsrMatrix rounded = docs;
    for (auto& v : rounded.data) v = f16_to_f32(f32_to_f16(v));
    const SparseExactIndex exact(rounded);
    SparseExactScratch s;
    return exact.search(q, k, s);
}

/// Same hits up to float rounding: scores within 1e-5 relative; ids equal unless two true scores are
/// within that tolerance of each other (then either order is exact). Returns how many ranks' ids it compared, so that
/// a caller can require most of them to be (a test that compared no id would pass on scores alone).
std::size_t expect_same_hits(const std::vector<Hit>& got, const std::vector<Hit>& want, const std::string& what) {
    EXPECT_EQ(got.size(), want.size()) << what;
    if (got.size() != want.size()) return 0;
    std::size_t compared = 0;
    for (std::size_t j = 0; j < want.size(); ++j) {
        const float tol = 1e-5F * std::max(1.0F, std::abs(want[j].score));
        EXPECT_NEAR(got[j].score, want[j].score, tol) << what << " rank " << j;
        if (!test::near_tie(want, j, tol, [](const Hit& h) { return h.score; })) {
            EXPECT_EQ(got[j].doc, want[j].doc) << what << " rank " << j;
            ++compared;
        }
    }
    return compared;
}

TEST(SeismicIndex, NoPruningEqualsExactSearchOverF16Values) {
    std::mt19937 rng(21);
    const auto docs = random_docs(2000, 500, rng, 0, 40);  // includes empty documents
    const auto queries = random_docs(40, 500, rng, 0, 15);  // includes empty queries
    BuildParams bp;
    bp.lambda = 1000000;  // lambda = infinity
    bp.alpha = 1.0;
    SearchParams sp;
    sp.k = 10;
    sp.query_cut = 1000;
    sp.heap_factor = 0.0F;  // never skip a block
    sp.screen_entries = 0;  // nor a document
    const auto index = SeismicIndex::build(docs, bp);
    const auto got = index.search_batch(queries, sp, 2);
    std::size_t compared = 0;
    for (std::size_t q = 0; q < queries.n_rows(); ++q) {
        compared += expect_same_hits(got[q], exact_f16(docs, queries.row(q), 10), "query " + std::to_string(q));
    }
    EXPECT_GT(compared, queries.n_rows() * 10 / 2);
}

TEST(SeismicIndex, SearchExactEqualsExactSearchOverF16ValuesWithPruning) {
    std::mt19937 rng(23);
    const auto docs = random_docs(1500, 300, rng, 0, 30);
    const auto queries = random_docs(30, 300, rng, 0, 12);
    BuildParams bp;
    bp.lambda = 20;  // heavy pruning must not matter: the exact path reads the forward index only
    const auto index = SeismicIndex::build(docs, bp);
    SearchScratch scratch;
    std::size_t compared = 0;
    for (std::size_t q = 0; q < queries.n_rows(); ++q) {
        SearchStats st;
        const auto got = index.search_exact(queries.row(q), 10, scratch, &st);
        compared += expect_same_hits(got, exact_f16(docs, queries.row(q), 10), "query " + std::to_string(q));
        EXPECT_EQ(st.docs_scored, docs.n_rows());
    }
    EXPECT_GT(compared, queries.n_rows() * 10 / 2);
}

double recall(const SeismicIndex& index, const CsrMatrix& docs, const CsrMatrix& queries, const SearchParams& sp) {
    const SparseExactIndex exact(docs);
    const auto got = index.search_batch(queries, sp, 1);
    const auto truth = exact.search_batch(queries, sp.k, 1);
    double hit = 0;
    double total = 0;
    for (std::size_t q = 0; q < queries.n_rows(); ++q) {
        std::set<DocIndex> t;
        for (const auto& h : truth[q]) t.insert(h.doc);
        for (const auto& h : got[q]) hit += static_cast<double>(t.count(h.doc));
        total += static_cast<double>(truth[q].size());
    }
    return total > 0 ? hit / total : 1.0;
}

TEST(SeismicIndex, RecallFloorAndKnnRefinement) {
    std::mt19937 rng(31);
    const auto docs = random_docs(6000, 2000, rng, 20, 60);
    const auto queries = random_docs(100, 2000, rng, 5, 20);
    BuildParams bp;
    bp.lambda = 150;
    bp.alpha = 0.4;
    SearchParams sp;
    sp.query_cut = 8;
    sp.heap_factor = 0.8F;
    auto index = SeismicIndex::build(docs, bp);
    const double base = recall(index, docs, queries, sp);
    EXPECT_GT(base, 0.6);
    EXPECT_LT(index.n_postings(), docs.nnz()) << "pruning kept fewer postings than nonzeros";
    index.build_knn_graph(10, 2);
    sp.knn = 10;
    const double with_knn = recall(index, docs, queries, sp);
    EXPECT_GE(with_knn, base);
    sp.heap_factor = 0.1F;
    sp.query_cut = 20;
    EXPECT_GE(recall(index, docs, queries, sp), with_knn - 1e-9) << "conservative settings do not lose recall";
}

/// `built` with a kNN graph set by hand: `knn` neighbours per document, UINT32_MAX for none.
SeismicIndex with_graph(const SeismicIndex& built, std::uint32_t knn, std::vector<std::uint32_t> neighbours) {
    auto arrays = built.arrays();
    arrays.knn = knn;
    arrays.neighbours = std::move(neighbours);
    return {built.forward(), arrays, built.params()};
}

/// A kNN refinement case: three documents over 10 terms (lists whole) with a graph of two neighbours each set by
/// hand, and the query {0: 1.0, 2: 0.25} searched for its top 3 over the list of term 0 alone, every block opened,
/// no screening.
struct KnnCase {
    SeismicIndex index;
    std::vector<std::uint32_t> qi{0, 2};
    std::vector<float> qv{1.0F, 0.25F};
    SearchParams sp{};
};
KnnCase knn_case(const std::vector<Entries>& rows, std::vector<std::uint32_t> graph) {
    BuildParams bp;
    bp.lambda = 100;
    bp.alpha = 1.0;
    KnnCase c{with_graph(SeismicIndex::build(csr(10, rows), bp), 2, std::move(graph))};
    c.sp.k = 3;
    c.sp.query_cut = 1;
    c.sp.heap_factor = 0.0F;
    c.sp.screen_entries = 0;
    return c;
}
constexpr auto kNone = std::numeric_limits<std::uint32_t>::max();

TEST(SeismicIndex, KnnRefinementScoresNeighboursOfTheTopKBeforeItOnly) {
    // Query {0: 1.0, 2: 0.25} with query_cut 1 walks only the list of term 0, which holds doc 0 alone. The graph
    // (set by hand) gives doc 0 the neighbours [2, none] and doc 2 the neighbour [1]. Refinement must add doc 2
    // with its exact score, stop at "none", and not follow doc 2's neighbour: doc 2 was not in the top-k it refines.
    const std::vector<Entries> rows{{{0, 4.0F}}, {{1, 1.0F}, {2, 0.5F}}, {{2, 2.0F}}};
    auto [index, qi, qv, sp] = knn_case(rows, {2, kNone, kNone, kNone, 1, kNone});
    SearchScratch scratch;
    SearchStats st;
    const auto exact = index.search_exact({qi, qv}, 3, scratch);
    ASSERT_EQ(exact, (std::vector<Hit>{{0, 4.0F}, {2, 0.5F}, {1, 0.125F}}));
    sp.knn = 0;
    EXPECT_EQ(index.search({qi, qv}, sp, scratch, &st), (std::vector<Hit>{exact[0]})) << "the list alone";
    for (const std::uint32_t knn : {1U, 2U, 5U}) {
        sp.knn = knn;
        EXPECT_EQ(index.search({qi, qv}, sp, scratch, &st), (std::vector<Hit>{exact[0], exact[1]})) << "knn " << knn;
        EXPECT_EQ(st.docs_scored, 2U) << "knn " << knn;
    }
    // Not set, knn uses the whole graph the index holds (here 2 per document), and nothing on an index without one.
    sp.knn = SearchParams{}.knn;
    EXPECT_EQ(index.search({qi, qv}, sp, scratch, &st), (std::vector<Hit>{exact[0], exact[1]})) << "default: the graph";
    EXPECT_EQ(with_graph(index, 0, {}).search({qi, qv}, sp, scratch), (std::vector<Hit>{exact[0]})) << "no graph";
}

TEST(SeismicVisitedSet, ContainsWhatWasInsertedThroughGrowthAndClear) {
    VisitedSet v(16);
    EXPECT_FALSE(v.contains(0));
    EXPECT_TRUE(v.insert(0)) << "offset 0 is a real key";
    for (std::uint64_t k = 1; k < 100; ++k) EXPECT_TRUE(v.insert(k * 7919));  // grows past 16 slots several times
    EXPECT_FALSE(v.insert(7919));
    EXPECT_EQ(v.size(), 100U);
    EXPECT_TRUE(v.contains(0));
    for (std::uint64_t k = 1; k < 100; ++k) EXPECT_TRUE(v.contains(k * 7919)) << k;
    EXPECT_FALSE(v.contains(5));
    EXPECT_FALSE(v.contains(100 * 7919));
    v.clear();
    EXPECT_EQ(v.size(), 0U);
    EXPECT_FALSE(v.contains(0));
    EXPECT_FALSE(v.contains(7919));
}

TEST(SeismicIndex, KnnRefinementSkipsNeighboursThatHaveBeenInTheHeap) {
    // Query {0: 1.0, 2: 0.25}, query_cut 1: the list of term 0 puts docs 0 (4) and 1 (3) in the top 3. The graph
    // gives each of them the other and doc 2 as neighbours. Refinement scores doc 2 once: docs 0 and 1 have been in
    // the heap, and doc 2's second listing comes after it entered.
    auto [index, qi, qv, sp] = knn_case({{{0, 4.0F}}, {{0, 3.0F}}, {{2, 2.0F}}}, {1, 2, 0, 2, kNone, kNone});
    SearchScratch scratch;
    SearchStats st;
    const auto exact = index.search_exact({qi, qv}, 3, scratch);
    ASSERT_EQ(exact, (std::vector<Hit>{{0, 4.0F}, {1, 3.0F}, {2, 0.5F}}));
    sp.knn = 2;
    EXPECT_EQ(index.search({qi, qv}, sp, scratch, &st), exact);
    EXPECT_EQ(st.docs_scored, 3U) << "docs 0 and 1 from the list, doc 2 once";
}

/// Doc 0 = {0: 5}; doc 1 = {1: 8, 5: 9}, whose heaviest entry (term 5) a query on terms 0 and 1 misses. Lists whole.
SeismicIndex screening_pair() {
    CsrMatrix docs;
    docs.dim = 10;
    docs.append_row(std::vector<std::uint32_t>{0}, std::vector<float>{5.0F});
    docs.append_row(std::vector<std::uint32_t>{1, 5}, std::vector<float>{8.0F, 9.0F});
    BuildParams bp;
    bp.lambda = 100;
    bp.alpha = 1.0;
    return SeismicIndex::build(docs, bp);
}

TEST(SeismicIndex, KnnRefinementScoresInFullANeighbourItsPrefixScreenedOut) {
    // Query {0: 1.0, 1: 0.75}, top-1, both lists walked. Doc 0 (score 5) fills the heap from the list of term 0.
    // In the list of term 1, doc 1's heaviest entry (term 5) misses the query: prefix score 0 < 1.0 * 5, so it is
    // screened out, though it scores 0.75 * 8 = 6 in full. The graph names doc 1 as doc 0's neighbour: refinement
    // must score it in full and let it in, rather than skip it as a document already met.
    for (const auto table : screening_modes()) {
        SCOPED_TRACE(screening_mode_name(table));
        auto index = with_graph(screening_pair(), 1, {1, std::numeric_limits<std::uint32_t>::max()});
        index.set_screen_table(table);
        const std::vector<std::uint32_t> qi{0, 1};
        const std::vector<float> qv{1.0F, 0.75F};
        auto sp = top1_over_two_lists(0.0F, 1, 1.0F);
        SearchScratch scratch;
        SearchStats st;
        sp.knn = 0;
        EXPECT_EQ(index.search({qi, qv}, sp, scratch, &st), (std::vector<Hit>{{0, 5.0F}}))
            << "screened out in its block";
        EXPECT_EQ(st.docs_screened_out, 1U);
        sp.knn = 1;
        EXPECT_EQ(index.search({qi, qv}, sp, scratch, &st), (std::vector<Hit>{{1, 6.0F}})) << "let in as a neighbour";
        EXPECT_EQ(st.docs_scored, 3U) << "doc 0, doc 1 on its prefix, doc 1 in full";
        // Met again in a later list, a document already in the heap does not enter twice (k = 2: both would fit).
        sp.k = 2;
        sp.knn = 0;
        sp.query_cut = 3;
        sp.screen_entries = 0;
        const std::vector<std::uint32_t> both_i{0, 1, 5};
        const std::vector<float> both_v{1.0F, 0.75F, 0.5F};
        EXPECT_EQ(index.search({both_i, both_v}, sp, scratch, &st), (std::vector<Hit>{{1, 10.5F}, {0, 5.0F}}))
            << "doc 1 lies in the lists of terms 1 and 5";
        EXPECT_EQ(st.docs_scored, 3U);
    }
}

TEST(SeismicIndex, ReachableNamesTheDocumentsOfTheWalkedListsOnly) {
    // Fixed-size pruning with lambda 1 keeps one document per term: term 0 -> doc 0, term 1 -> doc 1, term 2 ->
    // doc 2 (each the heaviest on its term). Doc 3 is empty. The query's heaviest terms are 0, then 1, then 2.
    CsrMatrix docs;
    docs.dim = 4;
    docs.append_row(std::vector<std::uint32_t>{0, 1}, std::vector<float>{1.0F, 0.1F});
    docs.append_row(std::vector<std::uint32_t>{0, 1}, std::vector<float>{0.5F, 1.0F});
    docs.append_row(std::vector<std::uint32_t>{1, 2}, std::vector<float>{0.2F, 1.0F});
    docs.append_row(std::vector<std::uint32_t>{}, std::vector<float>{});
    BuildParams bp;
    bp.lambda = 1;
    bp.pruning = PruningStrategy::fixed_size;
    const auto index = SeismicIndex::build(docs, bp);
    const std::vector<std::uint32_t> qi{0, 1, 2, 3};
    const std::vector<float> qv{2.0F, 1.0F, 0.5F, 0.25F};
    const std::vector<DocIndex> all{0, 1, 2, 3};
    using Docs = std::vector<DocIndex>;
    EXPECT_EQ(index.reachable({qi, qv}, 0, all), Docs{});
    EXPECT_EQ(index.reachable({qi, qv}, 1, all), Docs{0});
    EXPECT_EQ(index.reachable({qi, qv}, 2, all), (Docs{0, 1}));
    EXPECT_EQ(index.reachable({qi, qv}, 3, all), (Docs{0, 1, 2}));
    EXPECT_EQ(index.reachable({qi, qv}, 100, all), (Docs{0, 1, 2})) << "the empty document is in no list";
    EXPECT_EQ(index.reachable({qi, qv}, 2, Docs{2, 2, 7}), Docs{}) << "doc 2 is only in term 2's list";
    EXPECT_EQ(index.reachable({qi, qv}, 2, Docs{1, 3, 1, 0}), (Docs{1, 0})) << "asked order, duplicates once";
    // Query weights choose the lists: with term 2 heaviest, one list reaches doc 2 only.
    const std::vector<float> flipped{0.5F, 1.0F, 2.0F, 0.25F};
    EXPECT_EQ(index.reachable({qi, flipped}, 1, Docs{2}), Docs{2});
    EXPECT_EQ(index.reachable({qi, flipped}, 1, Docs{0, 1}), Docs{});
}

TEST(SeismicIndex, BuildIsDeterministicAcrossThreadCounts) {
    std::mt19937 rng(41);
    const auto docs = random_docs(1500, 400, rng, 5, 30);
    BuildParams bp;
    bp.lambda = 50;
    bp.threads = 1;
    const auto a = SeismicIndex::build(docs, bp);
    bp.threads = 2;
    const auto b = SeismicIndex::build(docs, bp);
    EXPECT_EQ(a.arrays().postings, b.arrays().postings);
    EXPECT_EQ(a.arrays().block_ends, b.arrays().block_ends);
    EXPECT_EQ(a.arrays().entry_step, b.arrays().entry_step);
    EXPECT_EQ(a.arrays().entry_word, b.arrays().entry_word);
}

/// Every summary entry of a list decoded: (block, component, code), fillers left out.
std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> decoded_entries(const SeismicArrays& a,
                                                                                   std::size_t term) {
    std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> out;
    std::uint32_t component = 0;
    for (auto e = a.list_entries[term]; e < a.list_entries[term + 1]; ++e) {
        component += a.entry_step[e];
        const std::uint32_t block = a.entry_word[e] >> a.code_bits;
        if (block != a.filler_block()) out.emplace_back(block, component, a.entry_word[e] & ((1U << a.code_bits) - 1));
    }
    std::sort(out.begin(), out.end());
    return out;
}

/// The same, recomputed from each block's documents with the build steps: alpha-mass summary, u8 codes, then the
/// code bits the index uses; also checks each block's quant against the 8-bit one scaled.
std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> expected_entries(const SeismicIndex& index,
                                                                                    std::size_t term) {
    const auto& a = index.arrays();
    const auto drop = 8U - a.code_bits;
    BuildScratch scratch;
    std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> out;
    std::uint32_t begin = 0;
    for (auto b = a.list_blocks[term]; b < a.list_blocks[term + 1]; ++b) {
        std::vector<DocIndex> docs;
        for (auto i = begin; i < a.block_ends[b]; ++i) {
            docs.push_back(index.forward().doc_at(posting_offset(a.postings[a.list_offsets[term] + i])));
        }
        begin = a.block_ends[b];
        const auto summary = alpha_mass_prune(block_max_vector(docs, index.forward(), scratch), index.params().alpha);
        std::vector<float> values;
        for (const auto& e : summary) values.push_back(e.second);
        const auto q = quantize(values);
        EXPECT_EQ(a.summary_quant[b], std::ldexp(q.quant, static_cast<int>(drop))) << "term " << term << " block " << b;
        EXPECT_EQ(a.summary_min[b], q.min);
        const auto local = static_cast<std::uint32_t>(b - a.list_blocks[term]);
        for (std::size_t i = 0; i < summary.size(); ++i) out.emplace_back(local, summary[i].first, q.codes[i] >> drop);
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(SeismicIndex, WideVocabularyUsesU32ComponentsAndFillerSummaryEntries) {
    std::mt19937 rng(51);
    auto docs = random_docs(500, 100, rng, 3, 10);
    for (auto& i : docs.indices) i = i * 1000 + 7;  // spread over a 100,000-term vocabulary
    docs.dim = 100000;
    const auto queries = docs;  // every doc queried by itself
    BuildParams bp;
    bp.lambda = 100000;
    bp.alpha = 1.0;
    const auto index = SeismicIndex::build(docs, bp);
    EXPECT_TRUE(index.forward().wide());
    // Components 1,000 apart: each step is carried by three fillers (step 255) before the entry (step 235).
    const auto& a = index.arrays();
    const auto fillers = std::count_if(a.entry_word.begin(), a.entry_word.end(),
                                       [&](std::uint16_t w) { return std::uint32_t{w} >> a.code_bits == a.filler_block(); });
    EXPECT_GT(fillers, 0);
    for (const std::size_t term : {7, 50007, 99007}) {
        EXPECT_FALSE(decoded_entries(a, term).empty());
        EXPECT_EQ(decoded_entries(a, term), expected_entries(index, term)) << "term " << term;
    }
    SearchParams sp;
    sp.k = 3;
    sp.query_cut = 100;
    sp.heap_factor = 0.0F;
    const auto got = index.search_batch(queries, sp, 1);
    std::size_t compared = 0;
    for (std::size_t q = 0; q < 20; ++q) {
        compared += expect_same_hits(got[q], exact_f16(docs, queries.row(q), 3), "query " + std::to_string(q));
    }
    EXPECT_GT(compared, 20U * 3 / 2);
}

// Summary entries are 3 bytes: a component step and a 16-bit word shared by the block number and the code. An
// index whose lists have at most 255 blocks keeps the paper's 8-bit codes; more blocks take bits from the code,
// down to 4 bits at kMaxBlocksPerList. Checked entry by entry against the build steps, then by search.
TEST(SeismicIndex, SummaryCodesGiveBitsToBlockNumbersPast255BlocksPerList) {
    std::mt19937 rng(53);
    const auto docs = random_docs(3000, 5000, rng, 20, 40);  // term 0 in most documents, the rest rare
    const auto queries = random_docs(40, 5000, rng, 1, 8);
    BuildParams bp;
    bp.lambda = 100000;  // nothing pruned: list 0 holds ~2,600 postings
    bp.alpha = 1.0;
    const auto most_blocks = [](const SeismicIndex& index) {
        std::uint64_t most = 0;
        const auto& a = index.arrays();
        for (std::size_t t = 0; t + 1 < a.list_blocks.size(); ++t) most = std::max(most, a.list_blocks[t + 1] - a.list_blocks[t]);
        return most;
    };
    bp.centroid_fraction = 0.04;  // at most ~100 blocks per list
    const auto narrow = SeismicIndex::build(docs, bp);
    ASSERT_LE(most_blocks(narrow), 255U);
    EXPECT_EQ(narrow.arrays().code_bits, 8U);
    bp.centroid_fraction = 0.15;  // ~390 blocks in list 0, none dissolved
    bp.min_cluster_size = 0;
    const auto nine = SeismicIndex::build(docs, bp);
    ASSERT_GT(most_blocks(nine), 255U);
    ASSERT_LT(most_blocks(nine), 512U);
    EXPECT_EQ(nine.arrays().code_bits, 7U);
    bp.centroid_fraction = 1.0;  // every document a centroid: ~2,600 blocks
    const auto fine = SeismicIndex::build(docs, bp);
    ASSERT_GT(most_blocks(fine), 2047U);
    EXPECT_EQ(fine.arrays().code_bits, 4U);
    // 6,000 documents sharing term 0, each with a heavy term of its own: every centroid keeps a cluster (its own
    // document), so only the cap stops list 0 at kMaxBlocksPerList blocks instead of 6,000.
    CsrMatrix distinct;
    distinct.dim = 6001;
    for (std::uint32_t i = 0; i < 6000; ++i) {
        distinct.append_row(std::vector<std::uint32_t>{0, i + 1}, std::vector<float>{1.0F, 5.0F});
    }
    bp.clustering = ClusteringAlgorithm::exact;
    const auto capped = SeismicIndex::build(distinct, bp);
    EXPECT_EQ(most_blocks(capped), kMaxBlocksPerList);
    EXPECT_EQ(capped.arrays().code_bits, 4U);
    EXPECT_EQ(decoded_entries(capped.arrays(), 0), expected_entries(capped, 0));
    for (const auto* index : {&narrow, &nine, &fine}) {
        for (const std::size_t term : {0, 1, 17, 4999}) {
            EXPECT_EQ(decoded_entries(index->arrays(), term), expected_entries(*index, term))
                << "term " << term << ", " << index->arrays().code_bits << " code bits";
        }
    }
    SearchParams exhaustive;
    exhaustive.query_cut = 1000;
    exhaustive.heap_factor = 0.0F;
    for (const auto* index : {&narrow, &nine, &fine}) {
        const auto got = index->search_batch(queries, exhaustive, 1);
        std::size_t compared = 0;
        for (std::size_t q = 0; q < queries.n_rows(); ++q) {
            compared += expect_same_hits(got[q], exact_f16(docs, queries.row(q), 10), "query " + std::to_string(q));
        }
        EXPECT_GT(compared, queries.n_rows() * 10 / 2) << index->arrays().code_bits << " code bits";
    }
    // Refused on load: a block number past the list's blocks, a list with more blocks than the block field holds,
    // code bits outside 4..8, a component past the vocabulary.
    const auto refused = [&](const SeismicArrays& arrays) {
        EXPECT_THROW(SeismicIndex(narrow.forward(), arrays, bp), InputError);
    };
    const auto& good = narrow.arrays();
    auto past = good;
    const auto nb = static_cast<std::uint16_t>(past.list_blocks[1] - past.list_blocks[0]);
    past.entry_word[past.list_entries[1] - 1] = static_cast<std::uint16_t>(nb << past.code_bits);
    refused(past);
    auto too_many = nine.arrays();
    too_many.code_bits = 8;
    EXPECT_THROW(SeismicIndex(nine.forward(), too_many, bp), InputError);
    for (const std::uint32_t bits : {3U, 9U}) {
        auto bad = good;
        bad.code_bits = bits;
        refused(bad);
    }
    auto far = good;
    far.entry_step[far.list_entries[5000] - 1] = 255;  // the last list's last entry steps past component 4999
    refused(far);
    EXPECT_NO_THROW(SeismicIndex(narrow.forward(), good, bp));
}

// The sampled directory of summary components (one sample per 64 entries) must find exactly the runs a decode of
// the whole list from its start finds: lists of thousands of entries, runs that straddle samples, lists that start and end between
// samples, query components before, between and after a list's. Any run missed or misplaced changes block
// scores, so which blocks are skipped, and the work counted.
TEST(SeismicIndex, SummaryDirectoryFindsTheRunsAFullDecodeFinds) {
    std::mt19937 rng(59);
    for (const std::uint32_t dim : {400U, 100000U}) {  // short steps; steps of 211 and fillers (u32 components)
        auto docs = random_docs(3000, 400, rng, 10, 60);
        auto queries = random_docs(150, 400, rng, 1, 40);
        if (dim > 400) {
            for (auto* m : {&docs, &queries}) {
                for (auto& i : m->indices) i = i * 211 + 5;  // spread over a wide vocabulary, order kept
                m->dim = dim;
            }
        }
        BuildParams bp;
        bp.lambda = 2000;
        bp.alpha = 0.8;
        bp.centroid_fraction = 0.3;
        const auto with_directory = SeismicIndex::build(docs, bp);
        std::uint64_t longest = 0;
        const auto& a = with_directory.arrays();
        for (std::size_t t = 0; t < docs.dim; ++t) longest = std::max(longest, a.list_entries[t + 1] - a.list_entries[t]);
        ASSERT_GT(longest, 64U * 20) << "lists must span many directory samples";
        ::setenv("AFTERSHOCK_SUMMARY_DIRECTORY", "0", 1);
        const SeismicIndex full_decode(with_directory.forward(), a, bp);
        ::unsetenv("AFTERSHOCK_SUMMARY_DIRECTORY");
        EXPECT_GT(with_directory.bytes().summaries, full_decode.bytes().summaries) << "the directory is counted";
        // An index loaded from the built arrays (directory on) answers and counts as the built one.
        const SeismicIndex loaded(with_directory.forward(), a, bp);
        EXPECT_EQ(loaded.bytes().summaries, with_directory.bytes().summaries);
        for (const float hf : {0.7F, 1.0F}) {
            SearchParams sp;
            sp.query_cut = 6;
            sp.heap_factor = hf;
            SearchStats x;
            SearchStats y;
            SearchStats z;
            const auto hits = with_directory.search_batch(queries, sp, 1, nullptr, &x);
            EXPECT_EQ(hits, full_decode.search_batch(queries, sp, 1, nullptr, &y)) << "dim " << dim << " hf " << hf;
            EXPECT_EQ(hits, loaded.search_batch(queries, sp, 1, nullptr, &z)) << "dim " << dim << " hf " << hf;
            EXPECT_GT(x.blocks_skipped, 0U);
            for (const auto* other : {&y, &z}) {
                EXPECT_EQ(x.blocks_skipped, other->blocks_skipped) << "dim " << dim << " hf " << hf;
                EXPECT_EQ(x.blocks_evaluated, other->blocks_evaluated);
                EXPECT_EQ(x.docs_scored, other->docs_scored);
            }
        }
    }
}

// Regression (fuzz_shard): offsets that are monotone for list 0 but fall back later, e.g. list_blocks
// [0, 100, 5, ...] over 5 blocks, were used to read list 0's blocks before the later pair was refused.
TEST(SeismicIndex, LoadRefusesOffsetsThatFallBackInALaterList) {
    std::mt19937 rng(29);
    const auto docs = random_docs(200, 50, rng, 1, 10);
    BuildParams bp;
    bp.lambda = 100;
    const auto index = SeismicIndex::build(docs, bp);
    for (auto member : {&SeismicArrays::list_blocks, &SeismicArrays::list_entries, &SeismicArrays::list_offsets}) {
        auto arrays = index.arrays();
        auto& offsets = arrays.*member;
        ASSERT_GE(offsets.size(), 3U);
        offsets[1] = offsets.back() + 1000;  // list 0 runs far past the end; list 1 "starts" after it ends
        EXPECT_THROW(SeismicIndex(index.forward(), arrays, bp), InputError);
    }
}

// ---- Screening: documents stored heaviest first, dropped on a prefix score.

/// The same index with each document's entries in term order, as shards built before screening stored them.
SeismicIndex with_term_ordered_documents(const SeismicIndex& built) {
    const auto& f = built.forward();
    auto packed = f.packed();
    for (std::size_t d = 0; d < f.n_docs(); ++d) {
        std::sort(packed.begin() + static_cast<std::ptrdiff_t>(f.offsets()[d]),
                  packed.begin() + static_cast<std::ptrdiff_t>(f.offsets()[d + 1]),
                  [](std::uint32_t a, std::uint32_t b) { return (a & 0xFFFFU) < (b & 0xFFFFU); });
    }
    return SeismicIndex(ForwardIndex(f.dim(), f.offsets(), std::move(packed), {}, {}), built.arrays(), built.params());
}

TEST(SeismicForward, DocumentsAreStoredHeaviestFirstInBothLayouts) {
    for (const std::uint32_t dim : {100U, 70000U}) {  // packed u32 entries, and u32 components beside f16 values
        CsrMatrix docs;
        docs.dim = dim;
        docs.append_row(std::vector<std::uint32_t>{1, 3, 7, 9}, std::vector<float>{0.5F, 0.5F, 2.0F, 1.0F});
        docs.append_row(std::vector<std::uint32_t>{}, std::vector<float>{});
        docs.append_row(std::vector<std::uint32_t>{4}, std::vector<float>{0.25F});
        const ForwardIndex f(docs);
        EXPECT_TRUE(f.heaviest_first()) << dim;
        std::vector<std::pair<std::uint32_t, float>> row0;
        for (std::uint64_t i = f.offsets()[0]; i < f.offsets()[1]; ++i) row0.emplace_back(f.component(i), f.value(i));
        // Descending weight; the two 0.5 entries by ascending component.
        EXPECT_EQ(row0, (Entries{{7, 2.0F}, {9, 1.0F}, {1, 0.5F}, {3, 0.5F}})) << dim;
        EXPECT_EQ(f.component(f.offsets()[2]), 4U);
        std::vector<float> q(dim, 0.0F);
        q[9] = 1.0F;
        q[1] = 3.0F;
        EXPECT_FLOAT_EQ(f.dot(q.data(), f.posting(0)), 2.5F);
        EXPECT_FLOAT_EQ(f.dot_prefix(q.data(), f.posting(0), 2), 1.0F) << "the two heaviest entries only";
        EXPECT_FLOAT_EQ(f.dot_prefix(q.data(), f.posting(0), 99), 2.5F) << "a prefix past the end is the document";
    }
    // Arrays read from a shard are checked, not trusted: term order with unequal weights is not heaviest first.
    const ForwardIndex term_order(100, {0, 2}, {1U | (std::uint32_t{f32_to_f16(0.5F)} << 16), 7U | (std::uint32_t{f32_to_f16(2.0F)} << 16)}, {}, {});
    EXPECT_FALSE(term_order.heaviest_first());
    const ForwardIndex heavy_first(100, {0, 2}, {7U | (std::uint32_t{f32_to_f16(2.0F)} << 16), 1U | (std::uint32_t{f32_to_f16(0.5F)} << 16)}, {}, {});
    EXPECT_TRUE(heavy_first.heaviest_first());
}

// doc_at() searches only the documents starting in the position's bucket of 512: the same answer as a binary
// search over all offsets, for every position, with empty documents, 600 one-entry documents in one bucket and a
// document spanning several buckets; on a built index and on arrays read back.
TEST(SeismicForward, DocAtFindsTheDocumentOfEveryPositionThroughItsBuckets) {
    std::mt19937 rng(61);
    CsrMatrix docs;
    docs.dim = 5000;
    const auto add = [&](std::uint32_t len) {
        std::vector<std::uint32_t> c(len);
        std::iota(c.begin(), c.end(), 0U);
        docs.append_row(c, std::vector<float>(len, 1.0F));
    };
    add(0);
    for (int i = 0; i < 300; ++i) add(static_cast<std::uint32_t>(1 + rng() % 300));
    add(0);
    add(0);
    for (int i = 0; i < 600; ++i) add(1);
    add(2000);
    for (int i = 0; i < 50; ++i) add(static_cast<std::uint32_t>(1 + rng() % 300));
    add(0);
    const ForwardIndex built(docs);
    const ForwardIndex loaded(docs.dim, built.offsets(), built.packed(), {}, {});
    const auto& off = built.offsets();
    ASSERT_GT(built.nnz(), 40U * 512U);
    EXPECT_EQ(built.doc_table_bytes(), ((built.nnz() >> 9) + 2) * sizeof(DocIndex));
    for (std::uint64_t x = 0; x < built.nnz() + 700; ++x) {
        const auto want = static_cast<DocIndex>(std::upper_bound(off.begin(), off.end(), x) - off.begin() - 1);
        ASSERT_EQ(built.doc_at(x), want) << "position " << x;
        ASSERT_EQ(loaded.doc_at(x), want) << "position " << x;
    }
    for (std::size_t d = 0; d < built.n_docs(); ++d) {
        if (built.length(d) > 0) {
            ASSERT_EQ(built.doc_at(off[d]), d);
        }
    }
    const ForwardIndex empty;
    EXPECT_EQ(empty.doc_at(0), 0U);
    EXPECT_EQ(empty.doc_table_bytes(), 0U);
}

TEST(SeismicIndex, ScreeningDropsADocumentWhoseHeaviestEntriesMissTheQuery) {
    // Query {0: 1.0, 1: 0.75}. The list of term 0 is walked first: doc 0 (score 5) fills the top-1. Doc 1 scores
    // 0.75 * 8 = 6 in full, but its heaviest entry (term 5, weight 9) is not in the query: prefix score 0.
    for (const auto table : screening_modes()) {
        SCOPED_TRACE(screening_mode_name(table));
        auto index = screening_pair();
        index.set_screen_table(table);
        const std::vector<std::uint32_t> qi{0, 1};
        const std::vector<float> qv{1.0F, 0.75F};
        SearchParams sp;
        sp.k = 1;
        sp.heap_factor = 0.0F;
        SearchScratch scratch;
        SearchStats st;
        sp.screen_entries = 0;
        EXPECT_EQ(index.search({qi, qv}, sp, scratch, &st), (std::vector<Hit>{{1, 6.0F}})) << "unscreened";
        EXPECT_EQ(st.docs_screened_out, 0U);
        sp.screen_entries = 1;
        sp.screen_factor = 1.0F;
        EXPECT_EQ(index.search({qi, qv}, sp, scratch, &st), (std::vector<Hit>{{0, 5.0F}})) << "0 < 1.0 * 5: dropped";
        EXPECT_EQ(st.docs_scored, 2U);
        EXPECT_EQ(st.docs_screened_out, 1U);
        sp.screen_factor = 0.0F;
        EXPECT_EQ(index.search({qi, qv}, sp, scratch, &st), (std::vector<Hit>{{1, 6.0F}})) << "0 >= 0 * 5: kept";
        sp.screen_factor = 1.0F;
        sp.screen_entries = 2;
        EXPECT_EQ(index.search({qi, qv}, sp, scratch, &st), (std::vector<Hit>{{1, 6.0F}}))
            << "the prefix is the document";
        sp.screen_entries = 1;
        const auto old_shard = with_term_ordered_documents(index);
        EXPECT_FALSE(old_shard.forward().heaviest_first());
        EXPECT_EQ(old_shard.search({qi, qv}, sp, scratch, &st), (std::vector<Hit>{{1, 6.0F}}))
            << "term order: no screening";
        EXPECT_EQ(st.docs_screened_out, 0U);
    }
}

/// 3,000 random documents of 40-160 entries (most longer than a screening prefix), 60 queries of 5-30, indexed with
/// lambda 200.
struct ScreeningCase {
    CsrMatrix docs;
    CsrMatrix queries;
    SeismicIndex index;
};
ScreeningCase screening_case(unsigned seed) {
    std::mt19937 rng(seed);
    auto docs = random_docs(3000, 1500, rng, 40, 160);
    auto queries = random_docs(60, 1500, rng, 5, 30);
    BuildParams bp;
    bp.lambda = 200;
    auto index = SeismicIndex::build(docs, bp);
    return {std::move(docs), std::move(queries), std::move(index)};
}

TEST(SeismicIndex, ScreeningKeepsScoresBitIdenticalAndOnlyDropsDocuments) {
    auto [docs, queries, index] = screening_case(57);
    for (const auto table : screening_modes()) {
        SCOPED_TRACE(screening_mode_name(table));
        index.set_screen_table(table);
        SearchParams sp;
        sp.query_cut = 8;
        sp.heap_factor = 0.8F;
        sp.screen_entries = 0;
        SearchStats plain_stats;
        const auto plain = index.search_batch(queries, sp, 1, nullptr, &plain_stats);
        // Factor 0: no prefix score of non-negative weights is below 0, so nothing is dropped and the hits stay. A
        // screened document is scored in full one block later, so the heap stands less strict when the next block is
        // tested: a few more blocks may open.
        sp.screen_entries = 16;
        sp.screen_factor = 0.0F;
        SearchStats st;
        EXPECT_EQ(index.search_batch(queries, sp, 1, nullptr, &st), plain);
        EXPECT_GE(st.docs_scored, plain_stats.docs_scored);
        EXPECT_LE(st.docs_scored, plain_stats.docs_scored + plain_stats.docs_scored / 50);
        EXPECT_EQ(st.docs_screened_out, 0U);
        // Factor 0.7: documents are dropped, and every hit kept has exactly its unscreened score, whether its scoring
        // carried on from the prefix (16 entries, whole groups of four) or started again (15).
        sp.screen_factor = 0.7F;
        SearchScratch scratch;
        for (const std::uint32_t prefix : {16U, 15U}) {
            sp.screen_entries = prefix;
            const auto screened = index.search_batch(queries, sp, 1, nullptr, &st);
            EXPECT_GT(st.docs_screened_out, st.docs_scored / 4) << "the prefix screens out a good share";
            for (std::size_t q = 0; q < queries.n_rows(); ++q) {
                const auto exact = index.search_exact(queries.row(q), 1000000, scratch);
                for (const auto& h : screened[q]) {
                    const auto it =
                        std::find_if(exact.begin(), exact.end(), [&](const Hit& e) { return e.doc == h.doc; });
                    ASSERT_NE(it, exact.end());
                    EXPECT_EQ(std::bit_cast<std::uint32_t>(it->score), std::bit_cast<std::uint32_t>(h.score))
                        << "prefix " << prefix << " query " << q << " doc " << h.doc;
                }
            }
        }
        sp.screen_entries = 16;
        for (const float bad :
             {-0.5F, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
            SearchParams refused = sp;
            refused.screen_factor = bad;
            EXPECT_THROW((void)index.search_batch(queries, refused, 1), UsageError) << bad;
        }
        sp.screen_entries = 0;
        const double unscreened = recall(index, docs, queries, sp);
        sp.screen_entries = 16;
        const double with_screen = recall(index, docs, queries, sp);
        EXPECT_GT(with_screen, unscreened - 0.05) << "unscreened " << unscreened;
    }
}

// The prefix lead only decides when a screening prefix is requested from memory: every lead, from a block ahead (0)
// to past the end of every list, gives the same hits and the same work, with exact prefixes and with estimates.
TEST(SeismicIndex, PrefixLeadChangesNeitherHitsNorWork) {
    auto [docs, queries, index] = screening_case(83);
    for (const auto table : screening_modes()) {
        SCOPED_TRACE(screening_mode_name(table));
        index.set_screen_table(table);
        for (const std::uint32_t screen : {48U, 15U}) {
            SearchParams sp;
            sp.query_cut = 8;
            sp.heap_factor = 0.8F;
            sp.screen_entries = screen;
            sp.prefix_lead = 0;
            SearchStats block_ahead;
            const auto expected = index.search_batch(queries, sp, 1, nullptr, &block_ahead);
            ASSERT_GT(block_ahead.blocks_skipped, 0U) << "blocks are skipped, some after their list started";
            ASSERT_GT(block_ahead.docs_screened_out, 0U);
            for (const std::uint32_t lead : {1U, 3U, 8U, 100000U}) {
                sp.prefix_lead = lead;
                SearchStats st;
                EXPECT_EQ(index.search_batch(queries, sp, 1, nullptr, &st), expected) << "lead " << lead;
                EXPECT_EQ(st.blocks_evaluated, block_ahead.blocks_evaluated) << "lead " << lead;
                EXPECT_EQ(st.blocks_skipped, block_ahead.blocks_skipped) << "lead " << lead;
                EXPECT_EQ(st.docs_scored, block_ahead.docs_scored) << "lead " << lead;
                EXPECT_EQ(st.docs_screened_out, block_ahead.docs_screened_out) << "lead " << lead;
            }
        }
    }
}

TEST(SeismicIndex, ScreeningEstimatesKeepTheHitsOfExactPrefixes) {
    if (!ScreeningTable::supported()) GTEST_SKIP() << "no AVX-512 F+BW on this CPU";
    std::mt19937 rng(71);
    const auto docs = random_docs(3000, 1500, rng, 40, 160);
    // Short queries (two tables) and long ones (four).
    auto queries = random_docs(40, 1500, rng, 5, 30);
    const auto long_queries = random_docs(20, 1500, rng, 100, 200);
    for (std::size_t q = 0; q < long_queries.n_rows(); ++q) {
        const auto row = long_queries.row(q);
        queries.append_row(row.indices, row.values);
    }
    std::size_t four_tables = 0;
    for (std::size_t q = 0; q < queries.n_rows(); ++q) {
        ScreeningTable t;
        ASSERT_TRUE(t.build(queries.row(q), queries.dim)) << "query " << q;
        four_tables += static_cast<std::size_t>(t.tables() == 4);
    }
    EXPECT_GT(four_tables, 0U);
    BuildParams bp;
    bp.lambda = 200;
    auto index = SeismicIndex::build(docs, bp);
    SearchParams sp;
    sp.query_cut = 8;
    sp.heap_factor = 0.8F;
    sp.screen_entries = 48;
    index.set_screen_table(ScreenTableUse::never);
    SearchStats exact_stats;
    const auto exact_prefixes = index.search_batch(queries, sp, 1, nullptr, &exact_stats);
    EXPECT_EQ(exact_stats.screen_table, 0U);
    index.set_screen_table(ScreenTableUse::always);
    SearchStats st;
    const auto estimated = index.search_batch(queries, sp, 1, nullptr, &st);
    EXPECT_EQ(st.screen_table, queries.n_rows()) << "every query held by a table";
    ASSERT_GT(exact_stats.docs_screened_out, exact_stats.docs_scored / 4) << "screening is at work";
    // An estimate within ~0.4% of the exact prefix score decides as it does, except for a prefix that close to the bar.
    std::size_t differ = 0;
    for (std::size_t q = 0; q < queries.n_rows(); ++q) {
        differ += static_cast<std::size_t>(estimated[q] != exact_prefixes[q]);
    }
    EXPECT_LE(differ, 1U);
    const auto screened_out = static_cast<double>(exact_stats.docs_screened_out);
    EXPECT_NEAR(static_cast<double>(st.docs_screened_out), screened_out, screened_out * 0.01);
    // By default only queries whose walked lists (the query_cut heaviest components') hold 2,048 postings or more.
    index.set_screen_table(ScreenTableUse::long_lists);
    const auto& offsets = index.arrays().list_offsets;
    for (const std::uint32_t cut : {3U, 8U}) {
        sp.query_cut = cut;
        std::uint64_t long_walks = 0;
        for (std::size_t q = 0; q < queries.n_rows(); ++q) {
            const auto row = queries.row(q);
            std::vector<std::pair<float, std::uint32_t>> by_weight;
            for (std::size_t i = 0; i < row.size(); ++i) by_weight.emplace_back(-row.values[i], row.indices[i]);
            std::sort(by_weight.begin(), by_weight.end());
            std::uint64_t postings = 0;
            for (std::size_t i = 0; i < std::min<std::size_t>(cut, by_weight.size()); ++i) {
                postings += offsets[by_weight[i].second + 1] - offsets[by_weight[i].second];
            }
            long_walks += static_cast<std::uint64_t>(postings >= 2048);
        }
        (void)index.search_batch(queries, sp, 1, nullptr, &st);
        EXPECT_EQ(st.screen_table, long_walks) << "query_cut " << cut;
        if (cut == 3) {
            EXPECT_LT(long_walks, queries.n_rows());
        } else {
            EXPECT_GT(long_walks, 0U);
        }
    }
}

// Hand-computed: a document is screened against the heap as it stands at its turn, not as it stood when its block
// opened. k = 1, lists t0 then t1 (query_cut 2), a 4-entry prefix, factor 0.5. List t0 holds only A (2.0), which fills
// the heap. List t1 is one block, B then C. C's prefix (t5 x 5 = 1.5) passes the block's opening bar (0.5 x 2.0 = 1.0),
// but B enters before C's turn (3.6), and 1.5 < 0.5 x 3.6: C is dropped, although its whole score (3.9) would win.
// A block is tested against the heap at its turn, not only when its list starts. Term 0's list holds two blocks,
// A {0: 2, 5: 3} and B {0: 1, 6: 3} (each its own cluster: A.A = 13 and B.B = 10 beat A.B = 2), whose alpha = 1
// summaries score 2 and 1 against the query {0: 1}. The first list is walked by summary score: A first. The heap
// (top 1) is empty when the list starts, so both blocks could open then; after A it holds 2, and B opens only if
// 1 >= heap_factor x 2.
TEST(SeismicIndex, ABlockIsTestedAgainstTheHeapAsItStandsAtItsTurn) {
    const auto docs = csr(10, {{{0, 2.0F}, {5, 3.0F}}, {{0, 1.0F}, {6, 3.0F}}});
    BuildParams bp;
    bp.pruning = PruningStrategy::fixed_size;
    bp.lambda = 10;
    bp.alpha = 1.0;
    bp.centroid_fraction = 1.0;
    bp.min_cluster_size = 0;
    const auto index = SeismicIndex::build(docs, bp);
    ASSERT_EQ(index.arrays().list_blocks[1] - index.arrays().list_blocks[0], 2U) << "one block per document";
    const std::vector<std::uint32_t> qi{0};
    const std::vector<float> qv{1.0F};
    SearchParams sp;
    sp.k = 1;
    sp.query_cut = 1;
    sp.first_sorted = true;
    sp.screen_entries = 0;
    sp.knn = 0;
    SearchScratch scratch;
    SearchStats st;
    sp.heap_factor = 0.6F;  // 1 < 0.6 x 2: B is skipped
    EXPECT_EQ(index.search({qi, qv}, sp, scratch, &st), (std::vector<Hit>{{0, 2.0F}}));
    EXPECT_EQ(st.blocks_evaluated, 1U);
    EXPECT_EQ(st.blocks_skipped, 1U);
    EXPECT_EQ(st.docs_scored, 1U);
    sp.heap_factor = 0.4F;  // 1 >= 0.4 x 2: B is scored, and stays out
    EXPECT_EQ(index.search({qi, qv}, sp, scratch, &st), (std::vector<Hit>{{0, 2.0F}}));
    EXPECT_EQ(st.blocks_evaluated, 2U);
    EXPECT_EQ(st.blocks_skipped, 0U);
    EXPECT_EQ(st.docs_scored, 2U);
}

TEST(SeismicIndex, ScreeningTestsEachDocumentAgainstTheHeapAtItsTurn) {
    const auto docs = csr(30, {{{0, 2.0F}},                                                    // A
                               {{1, 4.0F}, {20, 3.0F}, {21, 3.0F}, {22, 3.0F}},               // B
                               {{5, 5.0F}, {10, 5.0F}, {11, 5.0F}, {12, 5.0F},                // C: prefix
                                {1, 1.0F}, {6, 1.0F}, {7, 1.0F}, {8, 1.0F}}});                //    and tail
    BuildParams bp;
    bp.pruning = PruningStrategy::fixed_size;
    bp.lambda = 10;
    bp.alpha = 1.0;
    auto index = SeismicIndex::build(docs, bp);
    for (const auto table : screening_modes()) {
        SCOPED_TRACE(screening_mode_name(table));
        index.set_screen_table(table);
        const auto queries = csr(30, {{{0, 1.0F}, {1, 0.9F}, {5, 0.3F}, {6, 0.5F}, {7, 0.5F}, {8, 0.5F}}});
        auto sp = top1_over_two_lists(0.01F, 4, 0.5F);
        SearchScratch scratch;
        const auto exact = index.search_exact(queries.row(0), 3, scratch);
        ASSERT_EQ(exact.size(), 3U);
        ASSERT_EQ(exact[0].doc, 2U);  // C, 3.9
        ASSERT_EQ(exact[1].doc, 1U);  // B, 3.6
        SearchStats st;
        const auto screened = index.search(queries.row(0), sp, scratch, &st);
        ASSERT_EQ(screened.size(), 1U);
        EXPECT_EQ(screened[0].doc, 1U);
        EXPECT_EQ(std::bit_cast<std::uint32_t>(screened[0].score), std::bit_cast<std::uint32_t>(exact[1].score));
        EXPECT_EQ(st.docs_scored, 3U);
        EXPECT_EQ(st.docs_screened_out, 1U);
        // Without screening C is scored whole and wins.
        sp.screen_entries = 0;
        const auto plain = index.search(queries.row(0), sp, scratch, &st);
        ASSERT_EQ(plain.size(), 1U);
        EXPECT_EQ(plain[0].doc, 2U);
        EXPECT_EQ(st.docs_screened_out, 0U);
    }
}

}  // namespace
}  // namespace aftershock::seismic
