// The pure parts of the retrieval pipelines (issue 9): interpolation, re-ranking, Vector-PRF, top-t term
// selection and sparse PRF, the pipeline's steps and its parameter checks.
#include "aftershock/common/error.hpp"
#include "aftershock/common/pipeline/pipeline.hpp"

#include <gtest/gtest.h>

namespace aftershock::pipeline {
namespace {

TEST(Interpolate, WeightsNormalisedScoresAndFillsAbsentWithTheMinimum) {
    const std::vector<GlobalHit> a{{1, 10.0F}, {2, 5.0F}, {3, 0.0F}};  // minmax: 1, 0.5, 0
    const std::vector<GlobalHit> b{{3, 4.0F}, {1, 2.0F}, {4, 0.0F}};   // minmax: 1, 0.5, 0
    const auto out = interpolate(a, b, 0.25, Normalization::minmax, 10);
    ASSERT_EQ(out.size(), 4U);
    // 1: 0.75*1 + 0.25*0.5 = 0.875; 2: 0.75*0.5 + 0 = 0.375; 3: 0 + 0.25 = 0.25; 4: 0 + 0 = 0
    EXPECT_EQ(out[0].doc, 1U);
    EXPECT_FLOAT_EQ(out[0].score, 0.875F);
    EXPECT_EQ(out[1].doc, 2U);
    EXPECT_FLOAT_EQ(out[1].score, 0.375F);
    EXPECT_EQ(out[2].doc, 3U);
    EXPECT_FLOAT_EQ(out[2].score, 0.25F);
    EXPECT_EQ(out[3].doc, 4U);
    EXPECT_EQ(interpolate(a, b, 0.0, Normalization::none, 1)[0], (GlobalHit{1, 10.0F})) << "weight 0 = list a";
    EXPECT_THROW((void)interpolate(a, b, 1.5, Normalization::minmax, 3), UsageError);
}

TEST(Rerank, DenseScoresReorderTheCandidatesOnly) {
    const std::vector<GlobalHit> cand{{7, 3.0F}, {8, 2.0F}, {9, 1.0F}};
    const std::vector<GlobalHit> dense{{9, 0.9F}, {7, 0.1F}, {8, 0.5F}};  // any order
    const auto all_dense = rerank(cand, dense, 1.0, Normalization::minmax, 3);
    ASSERT_EQ(all_dense.size(), 3U);
    EXPECT_EQ(all_dense[0].doc, 9U);
    EXPECT_EQ(all_dense[1].doc, 8U);
    EXPECT_EQ(all_dense[2].doc, 7U);
    const auto half = rerank(cand, dense, 0.5, Normalization::minmax, 2);
    ASSERT_EQ(half.size(), 2U);  // 7: .5*1+.5*0 = .5; 8: .5*.5+.5*.5 = .5; 9: 0+.5 = .5 -> ties to the lower doc
    EXPECT_EQ(half[0].doc, 7U);
    EXPECT_EQ(half[1].doc, 8U);
    const auto missing = rerank(cand, std::vector<GlobalHit>{{9, 0.9F}, {8, 0.5F}}, 1.0, Normalization::minmax, 3);
    ASSERT_EQ(missing.size(), 3U);
    // 8 is the lowest scored (minmax 0); unscored 7 counts as that lowest score too: a tie, to the lower doc.
    EXPECT_EQ(missing[0].doc, 9U);
    EXPECT_EQ(missing[1].doc, 7U);
    EXPECT_EQ(missing[2].doc, 8U);
    EXPECT_EQ(missing[1].score, missing[2].score) << "an unscored candidate counts as the lowest dense score";
}

TEST(VectorPrf, AlphaQueryPlusBetaMean) {
    const std::vector<float> q{1.0F, 0.0F};
    const std::vector<std::vector<float>> docs{{0.0F, 2.0F}, {2.0F, 4.0F}};
    EXPECT_EQ(vector_prf(q, docs, 0.5, 1.0), (std::vector<float>{1.5F, 3.0F}));
    EXPECT_EQ(vector_prf(q, {}, 2.0, 1.0), (std::vector<float>{2.0F, 0.0F})) << "no feedback: alpha * q";
    const std::vector<std::vector<float>> wrong{{1.0F}};
    EXPECT_THROW((void)vector_prf(q, wrong, 1.0, 1.0), InputError);
}

TEST(TopTerms, HeaviestMeanWeightsTiesToTheLowerTerm) {
    const std::vector<SparseVector> docs{{{1, 5, 9}, {4.0F, 1.0F, 2.0F}}, {{5, 7}, {3.0F, 2.0F}}};
    // means: 1 -> 2, 5 -> 2, 7 -> 1, 9 -> 1
    EXPECT_EQ(top_terms(docs, 2), (SparseVector{{1, 5}, {2.0F, 2.0F}}));
    EXPECT_EQ(top_terms(docs, 3), (SparseVector{{1, 5, 7}, {2.0F, 2.0F, 1.0F}})) << "7 before 9 on a tie";
    EXPECT_EQ(top_terms(docs, 100).indices.size(), 4U);
    EXPECT_TRUE(top_terms({}, 5).indices.empty());
}

TEST(SparsePrf, MixesL1NormalisedQueryAndExpansion) {
    const SparseVector q{{2, 4}, {1.0F, 3.0F}};  // L1 4
    const std::vector<SparseVector> docs{{{4, 6}, {1.0F, 3.0F}}};  // top-1: term 6 (weight 3)
    const auto out = sparse_prf(q, docs, 1, 0.5, 0.5);
    EXPECT_EQ(out.indices, (std::vector<std::uint32_t>{2, 4, 6}));
    EXPECT_FLOAT_EQ(out.values[0], 0.125F);
    EXPECT_FLOAT_EQ(out.values[1], 0.375F);
    EXPECT_FLOAT_EQ(out.values[2], 0.5F);
    EXPECT_EQ(sparse_prf(q, {}, 5, 0.5, 0.5), q) << "no feedback: the query unchanged";
}

TEST(SparsePrf, TermInQueryAndExpansionGetsEachShareOnce) {
    // Feedback docs that repeat the query's term (the usual case): term 4 is in q (3/4 of its L1) and in the
    // expansion (mean weights {4: 2, 6: 1}, so 2/3 of its L1); the mix counts each share once, scale-free.
    const SparseVector q{{2, 4}, {1.0F, 3.0F}};
    const std::vector<SparseVector> docs{{{4, 6}, {1.0F, 2.0F}}, {{4}, {3.0F}}};
    const auto out = sparse_prf(q, docs, 2, 0.7, 0.3);
    ASSERT_EQ(out.indices, (std::vector<std::uint32_t>{2, 4, 6}));
    EXPECT_FLOAT_EQ(out.values[0], 0.7F * 0.25F);
    EXPECT_FLOAT_EQ(out.values[1], 0.7F * 0.75F + 0.3F * 2.0F / 3.0F);
    EXPECT_FLOAT_EQ(out.values[2], 0.3F * 1.0F / 3.0F);
    // Scaling the documents' weights (e.g. another BM25 k1) or the query changes nothing: alpha and beta are
    // the two parts' L1 masses.
    std::vector<SparseVector> scaled = docs;
    for (auto& d : scaled) {
        for (auto& v : d.values) v *= 10.0F;
    }
    const auto out2 = sparse_prf(SparseVector{{2, 4}, {2.0F, 6.0F}}, scaled, 2, 0.7, 0.3);
    ASSERT_EQ(out2.indices, out.indices);
    for (std::size_t i = 0; i < out.values.size(); ++i) EXPECT_FLOAT_EQ(out2.values[i], out.values[i]);
    // beta 0 keeps the query's ranking (its terms, scaled by alpha / |q|_1); the expansion terms drop out.
    const auto alone = sparse_prf(q, docs, 2, 1.0, 0.0);
    EXPECT_EQ(alone.indices, q.indices);
    EXPECT_FLOAT_EQ(alone.values[1] / alone.values[0], 3.0F);
}

PipelineQuery hybrid() {
    PipelineQuery q;
    q.k = 2;
    q.sparse = SparseVector{{1}, {1.0F}};
    q.dense = std::vector<float>{1.0F, 0.0F};
    return q;
}

TEST(Pipeline, RerankStepsSearchThenScoreTheCandidates) {
    auto q = hybrid();
    q.rerank = RerankParams{3, 1.0, Normalization::minmax};
    Pipeline p(q);
    ASSERT_EQ(p.next().size(), 1U);
    EXPECT_EQ(p.next()[0].kind, OpKind::search_sparse);
    EXPECT_EQ(p.next()[0].k, 3U);
    OpResult first;
    first.hits = {{5, 3.0F}, {6, 2.0F}, {7, 1.0F}};
    p.feed({first});
    ASSERT_EQ(p.next().size(), 1U);
    EXPECT_EQ(p.next()[0].kind, OpKind::score_dense);
    EXPECT_EQ(p.next()[0].docs, (std::vector<std::uint64_t>{5, 6, 7}));
    OpResult scores;
    scores.hits = {{5, 0.0F}, {6, 1.0F}, {7, 2.0F}};
    p.feed({scores});
    ASSERT_TRUE(p.done());
    EXPECT_EQ(p.result(), (std::vector<GlobalHit>{{7, 1.0F}, {6, 0.5F}}));
}

TEST(Pipeline, PrfBeforeTakesFeedbackFromTheInterpolatedFirstRound) {
    auto q = hybrid();
    PrfParams prf;
    prf.docs = 1;
    prf.dense = true;
    prf.interpolation = Interpolation::before;
    prf.weight = 1.0;  // the interpolated list is the dense one: feedback = dense top-1
    q.prf = prf;
    Pipeline p(q);
    ASSERT_EQ(p.next().size(), 2U);
    OpResult s;
    s.hits = {{1, 9.0F}, {2, 1.0F}};
    OpResult d;
    d.hits = {{3, 0.9F}, {1, 0.1F}};
    p.feed({s, d});
    ASSERT_EQ(p.next().size(), 1U);
    EXPECT_EQ(p.next()[0].kind, OpKind::fetch_dense);
    EXPECT_EQ(p.next()[0].docs, (std::vector<std::uint64_t>{3}));
    OpResult rows;
    rows.docs = {3};
    rows.dense_rows = {{0.0F, 1.0F}};
    p.feed({rows});
    ASSERT_EQ(p.next().size(), 1U);
    EXPECT_EQ(p.next()[0].kind, OpKind::search_dense);
    EXPECT_EQ(p.next()[0].dense, (std::vector<float>{1.0F, 1.0F})) << "alpha 1, beta 1";
    OpResult second;
    second.hits = {{4, 2.0F}, {3, 1.5F}, {1, 1.0F}};
    p.feed({second});
    ASSERT_TRUE(p.done());
    EXPECT_EQ(p.result(), (std::vector<GlobalHit>{{4, 2.0F}, {3, 1.5F}})) << "before: the PRF route's second round";
}

TEST(Pipeline, PrfAfterInterpolatesTheSecondRounds) {
    auto q = hybrid();
    PrfParams prf;
    prf.docs = 1;
    prf.sparse = true;
    prf.terms = 1;
    prf.interpolation = Interpolation::after;
    prf.weight = 0.0;
    q.prf = prf;
    Pipeline p(q);
    OpResult s;
    s.hits = {{1, 9.0F}};
    OpResult d;
    d.hits = {{3, 0.9F}};
    p.feed({s, d});
    ASSERT_EQ(p.next().size(), 1U);
    EXPECT_EQ(p.next()[0].kind, OpKind::fetch_sparse);
    EXPECT_EQ(p.next()[0].docs, (std::vector<std::uint64_t>{1})) << "after: the sparse route's own top-1";
    OpResult rows;
    rows.docs = {1};
    rows.sparse_rows = {{{1, 8}, {1.0F, 3.0F}}};
    p.feed({rows});
    ASSERT_EQ(p.next().size(), 1U);
    EXPECT_EQ(p.next()[0].sparse.indices, (std::vector<std::uint32_t>{1, 8}));
    OpResult second;
    second.hits = {{8, 5.0F}, {1, 4.0F}};
    p.feed({second});
    EXPECT_EQ(p.result().front().doc, 8U) << "weight 0: the sparse second round decides";
}

TEST(Pipeline, RefusesMeaninglessCombinationsNamingTheField) {
    const auto message = [](const PipelineQuery& q) {
        try {
            validate(q);
        } catch (const UsageError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    auto q = hybrid();
    q.rerank = RerankParams{};
    q.rerank->weight = 2.0;
    EXPECT_EQ(message(q).rfind("rerank.weight", 0), 0U) << message(q);
    q.rerank->weight = 0.5;
    q.prf = PrfParams{};
    EXPECT_EQ(message(q).rfind("rerank", 0), 0U) << "rerank and prf together";
    q.rerank.reset();
    EXPECT_EQ(message(q).rfind("prf", 0), 0U) << "prf with neither route";
    q.prf->sparse = true;
    EXPECT_EQ(message(q).rfind("prf.interpolate", 0), 0U) << "hybrid with interpolate none";
    q.prf->interpolation = Interpolation::before;
    EXPECT_TRUE(message(q).empty()) << message(q);
    q.prf->dense = true;
    EXPECT_EQ(message(q).rfind("prf.interpolate", 0), 0U) << "before with two PRF routes";
    auto single = hybrid();
    single.dense.reset();
    single.prf = PrfParams{};
    single.prf->dense = true;
    EXPECT_EQ(message(single).rfind("prf.dense", 0), 0U) << "dense PRF without a dense query";
    single.rerank = std::nullopt;
    auto rr = hybrid();
    rr.dense.reset();
    rr.rerank = RerankParams{};
    EXPECT_EQ(message(rr).rfind("rerank", 0), 0U) << "rerank needs a dense query";
    EXPECT_EQ(parse_interpolation("both"), Interpolation::both);
    EXPECT_THROW((void)parse_interpolation("sometimes"), UsageError);
}

}  // namespace
}  // namespace aftershock::pipeline
