// The coordinator's request model: a full valid body, and every kind of bad input mapped to a 4xx with a
// code and a message naming the field (the server answers these without touching a worker).
#include "aftershock/coordinator/api.hpp"
#include "aftershock/coordinator/auth.hpp"
#include "aftershock/coordinator/cluster.hpp"
#include "aftershock/coordinator/recall_estimator.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace aftershock::coordinator {
namespace {

using ::testing::HasSubstr;

const IndexFacts kFacts{1000, 4};
const ApiLimits kLimits{};

/// Status, code and message of the refusal of `body`.
std::tuple<int, std::string, std::string> refusal(const std::string& body, const text::QueryEncoder* enc = nullptr) {
    try {
        (void)parse_search(body, kLimits, kFacts, enc);
    } catch (const ApiError& e) {
        return {e.status(), e.code(), e.what()};
    }
    return {200, "", ""};
}

TEST(Api, ParsesAFullHybridBody) {
    const auto q = parse_search(R"({"k":7,"sparse":{"indices":[9,3],"values":[0.5,2]},"dense":[1,0,0,0.5],
        "fusion":{"method":"linear","weights":{"sparse":0.3,"dense":0.7},"normalization":"zscore"},
        "params":{"query_cut":5,"heap_factor":0.8,"knn":2,"first_sorted":true,"ef_search":40,"nprobe":3},
        "timeout_ms":250,"min_coverage":0.5,"candidates":50})", kLimits, kFacts);
    EXPECT_EQ(q.k, 7U);
    EXPECT_EQ(q.indices, (std::vector<std::uint32_t>{3, 9})) << "sorted by index";
    EXPECT_EQ(q.values, (std::vector<float>{2.0F, 0.5F}));
    EXPECT_EQ(q.dense.size(), 4U);
    EXPECT_EQ(q.fusion.method, FusionMethod::linear);
    EXPECT_EQ(q.fusion.normalization, Normalization::zscore);
    EXPECT_DOUBLE_EQ(q.weight_dense, 0.7);
    EXPECT_EQ(q.knobs.query_cut, 5U);
    EXPECT_FLOAT_EQ(q.knobs.heap_factor.value(), 0.8F);
    EXPECT_EQ(q.knobs.knn, 2U);
    EXPECT_EQ(q.knobs.first_sorted, true);
    EXPECT_EQ(q.knobs.ef_search, 40U);
    EXPECT_EQ(q.knobs.nprobe, 3U);
    EXPECT_EQ(q.timeout_ms, 250U);
    EXPECT_DOUBLE_EQ(q.min_coverage, 0.5);
    EXPECT_EQ(q.candidates, 50U);
    const auto small = parse_search(R"({"k":60,"dense":[0,0,0,1]})", kLimits, kFacts);
    EXPECT_EQ(small.knobs, wire::SearchKnobs{}) << "knobs not given are left to the workers";
    EXPECT_EQ(small.candidates, 100U);
    EXPECT_FALSE(small.has_sparse);
    EXPECT_EQ(parse_search(R"({"k":300,"dense":[0,0,0,1]})", kLimits, kFacts).candidates, 300U) << "candidates >= k";
    // knn 0 and first_sorted false are given, not left to the workers: they turn off what a worker may do by default.
    const auto off = parse_search(R"({"dense":[0,0,0,1],"params":{"knn":0,"first_sorted":false}})", kLimits, kFacts);
    EXPECT_EQ(off.knobs.knn, std::optional<std::uint32_t>(0));
    EXPECT_EQ(off.knobs.first_sorted, std::optional<bool>(false));
    EXPECT_FALSE(off.knobs.query_cut.has_value());
}

TEST(Api, BadInputNamesTheField) {
    struct Case {
        const char* body;
        int status;
        const char* code;
        const char* says;
    };
    const Case cases[] = {
        {R"({"k":5,"sparse":{"indices":[1],"values":[1]})", 400, "invalid_json", "malformed JSON"},
        {"", 400, "invalid_json", "malformed JSON"},
        {R"([1,2])", 422, "invalid_field", "body"},
        {R"({"k":"5","dense":[0,0,0,1]})", 422, "invalid_field", "k:"},
        {R"({"k":0,"dense":[0,0,0,1]})", 422, "invalid_field", "k:"},
        {R"({"k":-3,"dense":[0,0,0,1]})", 422, "invalid_field", "k:"},
        {R"({"k":1000000,"dense":[0,0,0,1]})", 422, "invalid_field", "k:"},
        {R"({"k":2.5,"dense":[0,0,0,1]})", 422, "invalid_field", "k:"},
        {R"({"k":5})", 422, "invalid_field", "needs sparse"},
        {R"({"sparse":{"indices":[1,2],"values":[1]}})", 422, "invalid_field", "indices has 2 entries but values has 1"},
        {R"({"sparse":{"indices":[4,4],"values":[1,1]}})", 422, "invalid_field", "duplicate index 4"},
        {R"({"sparse":{"indices":[1000],"values":[1]}})", 422, "invalid_field", "sparse.indices[0]: 1000 is out of range"},
        {R"({"sparse":{"indices":[-1],"values":[1]}})", 422, "invalid_field", "sparse.indices[0]"},
        {R"({"sparse":{"indices":[1],"values":["x"]}})", 422, "invalid_field", "sparse.values[0]"},
        {R"({"sparse":{"indices":[1],"values":[1e300]}})", 422, "invalid_field", "sparse.values[0]"},
        {R"({"sparse":{"indices":[1],"values":[NaN]}})", 400, "invalid_json", "malformed JSON"},
        {R"({"sparse":[1,2]})", 422, "invalid_field", "sparse: must be an object"},
        {R"({"sparse":{"indices":[1],"values":[1],"extra":1}})", 422, "unknown_field", "sparse.extra"},
        {R"({"dense":[1,2]})", 422, "invalid_field", "dense: has 2 values; the index's dimension is 4"},
        {R"({"dense":[1,2,"a",4]})", 422, "invalid_field", "dense[2]"},
        {R"({"dense":[0,0,0,1],"fusion":{"method":"borda"}})", 422, "invalid_field", "fusion.method"},
        {R"({"dense":[0,0,0,1],"fusion":{"method":"linear","normalization":"l2"}})", 422, "invalid_field", "fusion.normalization"},
        {R"({"dense":[0,0,0,1],"fusion":{"method":"rrf","rank_constant":-1}})", 422, "invalid_field", "fusion.rank_constant"},
        {R"({"dense":[0,0,0,1],"fusion":{"method":"linear","weights":{"image":1}}})", 422, "unknown_field", "fusion.weights.image"},
        {R"({"dense":[0,0,0,1],"timeout_ms":-5})", 422, "invalid_field", "timeout_ms"},
        {R"({"dense":[0,0,0,1],"timeout_ms":0})", 422, "invalid_field", "timeout_ms"},
        {R"({"dense":[0,0,0,1],"min_coverage":1.5})", 422, "invalid_field", "min_coverage"},
        {R"({"dense":[0,0,0,1],"params":{"heap_factor":0}})", 422, "invalid_field", "params.heap_factor"},
        {R"({"dense":[0,0,0,1],"params":{"efsearch":10}})", 422, "unknown_field", "params.efsearch"},
        {R"({"dense":[0,0,0,1],"exact":"yes"})", 422, "invalid_field", "exact"},
        {R"({"dense":[0,0,0,1],"kk":1})", 422, "unknown_field", "kk: unknown field"},
        {R"({"sparse":{"tokens":{"hello":1}}})", 422, "no_vocabulary", "vocabulary"},
        {"{\"dense\":[0,0,0,1],\"note\":\"\xff\xfe\"}", 400, "invalid_json", "malformed JSON"},
        {R"([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])", 400, "invalid_json", "nested deeper"},
    };
    for (const auto& c : cases) {
        const auto [status, code, message] = refusal(c.body);
        EXPECT_EQ(status, c.status) << c.body;
        EXPECT_EQ(code, c.code) << c.body;
        EXPECT_THAT(message, HasSubstr(c.says)) << c.body;
    }
    const ApiError e(422, "invalid_field", "k: must be in 1..1000");
    EXPECT_EQ(e.body(), R"({"error":{"code":"invalid_field","message":"k: must be in 1..1000"}})");
}

TEST(Api, RerankAndPrfBodies) {
    const auto r = parse_search(R"({"k":5,"sparse":{"indices":[1],"values":[1]},"dense":[0,0,0,1],
        "rerank":{"depth":50,"weight":0.25,"normalization":"zscore"}})", kLimits, kFacts);
    ASSERT_TRUE(r.rerank.has_value());
    EXPECT_EQ(r.rerank->depth, 50U);
    EXPECT_DOUBLE_EQ(r.rerank->weight, 0.25);
    EXPECT_EQ(r.rerank->normalization, Normalization::zscore);
    EXPECT_TRUE(r.is_pipeline());
    const auto p = parse_search(R"({"sparse":{"indices":[1],"values":[1]},"dense":[0,0,0,1],
        "prf":{"docs":5,"depth":80,"interpolate":"both","weight":0.3,"sparse":{"terms":20,"alpha":0.6,"beta":0.4},"dense":{"alpha":1,"beta":0.5}}})",
                                kLimits, kFacts);
    ASSERT_TRUE(p.prf.has_value());
    EXPECT_EQ(p.prf->docs, 5U);
    EXPECT_EQ(p.prf->depth, 80U);
    EXPECT_EQ(p.prf->interpolation, pipeline::Interpolation::both);
    EXPECT_TRUE(p.prf->sparse && p.prf->dense);
    EXPECT_EQ(p.prf->terms, 20U);
    EXPECT_DOUBLE_EQ(p.prf->dense_beta, 0.5);
    const auto single = parse_search(R"({"sparse":{"indices":[1],"values":[1]},"prf":{"sparse":{}}})", kLimits, kFacts);
    EXPECT_EQ(single.prf->interpolation, pipeline::Interpolation::none) << "one route: nothing to interpolate";
    const auto both = parse_search(R"({"sparse":{"indices":[1],"values":[1]},"dense":[0,0,0,1],"prf":{"dense":{}}})", kLimits, kFacts);
    EXPECT_EQ(both.prf->interpolation, pipeline::Interpolation::after) << "hybrid default";
}

TEST(Api, BadRerankAndPrfParametersNameTheField) {
    const std::string h = R"("sparse":{"indices":[1],"values":[1]},"dense":[0,0,0,1])";
    const std::pair<std::string, const char*> cases[] = {
        {"{" + h + R"(,"rerank":{"depth":0}})", "rerank.depth"},
        {"{" + h + R"(,"rerank":{"depth":20000}})", "rerank.depth"},
        {"{" + h + R"(,"rerank":{"weight":1.5}})", "rerank.weight"},
        {"{" + h + R"(,"rerank":{"weight":"half"}})", "rerank.weight"},
        {"{" + h + R"(,"rerank":{"normalization":"l2"}})", "rerank.normalization"},
        {"{" + h + R"(,"rerank":{"deep":1}})", "rerank.deep"},
        {"{" + h + R"(,"rerank":[200]})", "rerank: must be an object"},
        {R"({"sparse":{"indices":[1],"values":[1]},"rerank":{}})", "rerank: needs a sparse query"},
        {"{" + h + R"(,"rerank":{},"prf":{"dense":{}}})", "rerank: cannot be combined with prf"},
        {"{" + h + R"(,"rerank":{},"fusion":{"method":"rrf"}})", "fusion: does not apply"},
        {"{" + h + R"(,"prf":{}})", "prf: give prf.sparse and/or prf.dense"},
        {"{" + h + R"(,"prf":{"docs":0,"dense":{}}})", "prf.docs"},
        {"{" + h + R"(,"prf":{"interpolate":"maybe","dense":{}}})", "prf.interpolate"},
        {"{" + h + R"(,"prf":{"interpolate":"none","dense":{}}})", "prf.interpolate"},
        {"{" + h + R"(,"prf":{"interpolate":"before","dense":{},"sparse":{}}})", "prf.interpolate"},
        {"{" + h + R"(,"prf":{"weight":-0.1,"dense":{}}})", "prf.weight"},
        {"{" + h + R"(,"prf":{"sparse":{"terms":0}}})", "prf.sparse.terms"},
        {"{" + h + R"(,"prf":{"sparse":{"gamma":1}}})", "prf.sparse.gamma"},
        {"{" + h + R"(,"prf":{"dense":{"alpha":"x"}}})", "prf.dense.alpha"},
        {R"({"sparse":{"indices":[1],"values":[1]},"prf":{"dense":{}}})", "prf.dense: the query has no dense part"},
        {R"({"dense":[0,0,0,1],"prf":{"dense":{},"interpolate":"after"}})", "prf.interpolate"},
    };
    for (const auto& [body, says] : cases) {
        const auto [status, code, message] = refusal(body);
        EXPECT_EQ(status, 422) << body;
        EXPECT_THAT(message, HasSubstr(says)) << body;
    }
}

TEST(Api, BatchLimitsAndErrorsNameTheQuery) {
    EXPECT_EQ(parse_search_batch(R"({"queries":[{"dense":[0,0,0,1]},{"k":3,"dense":[1,0,0,0]}]})", kLimits, kFacts).size(), 2U);
    try {
        (void)parse_search_batch(R"({"queries":[{"dense":[0,0,0,1]},{"k":0,"dense":[1,0,0,0]}]})", kLimits, kFacts);
        FAIL();
    } catch (const ApiError& e) {
        EXPECT_THAT(e.what(), HasSubstr("queries[1].k"));
    }
    ApiLimits small;
    small.max_batch = 2;
    try {
        (void)parse_search_batch(R"({"queries":[{"dense":[0,0,0,1]},{"dense":[0,0,0,1]},{"dense":[0,0,0,1]}]})", small, kFacts);
        FAIL();
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 413);
    }
    EXPECT_THROW((void)parse_search_batch(R"({"queries":[]})", kLimits, kFacts), ApiError);
    EXPECT_THROW((void)parse_search_batch(R"({"queries":{}})", kLimits, kFacts), ApiError);
}

TEST(Api, TokensAndTextThroughTheVocabulary) {
    const text::QueryEncoder enc(text::TextVocab{{"[PAD]", "[UNK]", "hello", "world", "##s"}, std::nullopt}, "test vocab");
    const auto q = parse_search(R"({"sparse":{"tokens":{"world":0.5,"hello":2}}})", kLimits, kFacts, &enc);
    EXPECT_EQ(q.indices, (std::vector<std::uint32_t>{2, 3}));
    EXPECT_EQ(q.values, (std::vector<float>{2.0F, 0.5F}));
    const auto t = parse_search(R"({"sparse":{"text":"Hello worlds, hello!"}})", kLimits, kFacts, &enc);
    EXPECT_EQ(t.indices, (std::vector<std::uint32_t>{2, 3, 4}));
    EXPECT_EQ(t.values, (std::vector<float>{2.0F, 1.0F, 1.0F})) << "bm25 mode: token counts";
    EXPECT_THAT(std::get<2>(refusal(R"({"sparse":{"tokens":{"nope":1}}})", &enc)), HasSubstr("sparse.tokens"));
    EXPECT_THAT(std::get<2>(refusal(R"({"sparse":{"text":"zzz qqq"}})", &enc)), HasSubstr("sparse.text"));
    EXPECT_THAT(std::get<2>(refusal(R"({"sparse":{"text":"hello","text_mode":"tfidf"}})", &enc)), HasSubstr("sparse.text_mode"));
    EXPECT_THAT(std::get<2>(refusal(R"({"sparse":{"text":"hello","tokens":{"hello":1}}})", &enc)), HasSubstr("one of"));
}

TEST(RecallEstimator, WindowedMeanAndSampling) {
    EXPECT_DOUBLE_EQ(recall_at_k({1, 2, 3, 4}, {2, 4, 6, 8}), 0.5);
    EXPECT_DOUBLE_EQ(recall_at_k({}, {}), 1.0);
    RecallEstimator est(1.0, 3);
    EXPECT_TRUE(est.sample());
    EXPECT_FALSE(est.estimate("sparse").has_value());
    EXPECT_DOUBLE_EQ(est.add("sparse", 1.0), 1.0);
    EXPECT_DOUBLE_EQ(est.add("sparse", 0.5), 0.75);
    EXPECT_DOUBLE_EQ(est.add("sparse", 0.0), 0.5);
    EXPECT_DOUBLE_EQ(est.add("sparse", 0.0), 1.0 / 6.0) << "the oldest sample (1.0) left the window";
    EXPECT_EQ(est.samples("sparse"), 3U);
    EXPECT_FALSE(est.estimate("dense").has_value());
    RecallEstimator none(0.0, 10);
    EXPECT_FALSE(none.sample());
    RecallEstimator some(0.25, 10, 7);
    int hits = 0;
    for (int i = 0; i < 4000; ++i) hits += some.sample() ? 1 : 0;
    EXPECT_NEAR(hits / 4000.0, 0.25, 0.03);
}

TEST(ClusterState, ReplicasHealthAndConsistency) {
    ClusterState c({{"127.0.0.1", 1}, {"127.0.0.1", 2}, {"127.0.0.1", 3}});
    EXPECT_FALSE(c.ready());
    WorkerInfo both{2, 100, "abc", {{0, 0, 50, true, 30522, false, 0}, {1, 50, 100, true, 30522, false, 0}}};
    WorkerInfo one{2, 100, "abc", {{1, 50, 100, true, 30522, false, 0}}};
    WorkerInfo other{3, 100, "xyz", {}};
    EXPECT_TRUE(c.set_info(0, both));
    EXPECT_TRUE(c.set_info(1, one));
    EXPECT_FALSE(c.set_info(2, other)) << "a worker of another index is refused";
    EXPECT_FALSE(c.ready()) << "nobody healthy yet";
    c.mark_healthy(0);
    c.mark_healthy(1);
    c.mark_healthy(2);
    EXPECT_TRUE(c.ready());
    EXPECT_EQ(c.live_replicas(0), (std::vector<std::size_t>{0}));
    EXPECT_EQ(c.live_replicas(1).size(), 2U);
    EXPECT_EQ(c.live_replicas(1, {0}), (std::vector<std::size_t>{1}));
    c.begin_request(0);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(c.live_replicas(1).front(), 1U) << "least loaded first";
    c.end_request(0);
    c.record_worker_latency(0, 0.0010);
    c.record_worker_latency(1, 0.0018);
    c.begin_request(0);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(c.live_replicas(1).front(), 1U) << "within 2x of the fastest counts as equal: the idle one first";
    c.end_request(0);
    int first0 = 0;
    for (int i = 0; i < 100; ++i) first0 += c.live_replicas(1).front() == 0U ? 1 : 0;
    EXPECT_GE(first0, 40) << "equal idle replicas share the traffic";
    EXPECT_LE(first0, 60);
    c.record_worker_latency(0, 0.001);
    c.record_worker_latency(1, 0.050);
    int slow_first = 0;
    for (int i = 0; i < 200; ++i) slow_first += c.live_replicas(1).front() == 1U ? 1 : 0;
    EXPECT_GE(slow_first, 1) << "the slow replica is still explored now and then";
    EXPECT_LE(slow_first, 8) << "but mostly avoided";
    c.mark_unhealthy(0, "gone");
    EXPECT_FALSE(c.ready()) << "shard 0 has no live replica";
    EXPECT_EQ(c.live_replica_counts(), (std::vector<std::size_t>{0, 1}));
    EXPECT_EQ(c.facts().sparse_dim, 30522U);
    EXPECT_EQ(c.describe()["shards"][0]["state"], "unavailable");
    EXPECT_FALSE(c.latency_p95(0).has_value());
    for (int i = 1; i <= 100; ++i) c.record_latency(0, i * 0.001);
    EXPECT_NEAR(*c.latency_p95(0), 0.096, 1e-9);
    EXPECT_THROW((void)parse_worker_info(R"({"n_shards":1})"), InputError);
}

}  // namespace
}  // namespace aftershock::coordinator

namespace aftershock::coordinator {
namespace {

TEST(BearerAuth, AcceptsOnlyConfiguredTokens) {
    const BearerAuth off;
    EXPECT_TRUE(off.allows(""));
    const auto auth = BearerAuth::from_list(" alpha-1 ,beta-2,");
    EXPECT_TRUE(auth.enabled());
    EXPECT_TRUE(auth.allows("Bearer alpha-1"));
    EXPECT_TRUE(auth.allows("Bearer beta-2"));
    EXPECT_FALSE(auth.allows(""));
    EXPECT_FALSE(auth.allows("Bearer "));
    EXPECT_FALSE(auth.allows("Bearer alpha-"));
    EXPECT_FALSE(auth.allows("Bearer alpha-12"));
    EXPECT_FALSE(auth.allows("Basic alpha-1"));
    EXPECT_FALSE(auth.allows("alpha-1"));
    EXPECT_THROW((void)BearerAuth::from_file("/nonexistent/tokens"), InputError);
}

}  // namespace
}  // namespace aftershock::coordinator
