// The shard server's request handling without sockets: answers per shard, merged, equal the in-process
// LocalIndex search (sparse and dense, approximate and exact); refused requests carry the right wire code.
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/generator.hpp"
#include "aftershock/worker/shard_builder.hpp"
#include "aftershock/worker/shard_service.hpp"
#include "generated_index.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace aftershock::worker {
namespace {

/// A generated corpus (sparse + dense) built into `shards` shards under dir/idx (with a kNN graph of `knn`).
std::string build_index(const test::ScratchDir& dir, std::uint32_t shards, std::uint32_t knn = 0) {
    ShardBuildOptions opt;
    opt.params.lambda = 100;
    opt.params.knn = knn;
    opt.dense.type = dense::IndexType::hnsw;
    return test::generate_and_build_index(dir, {.n_docs = 1500, .n_queries = 20, .seed = 3, .dense_dim = 8}, opt, shards);
}

wire::SearchRequest request(std::uint32_t shard, wire::Route route, std::uint32_t k) {
    wire::SearchRequest r;
    r.shard = shard;
    r.route = route;
    r.k = k;
    return r;
}

std::vector<GlobalHit> fan_out(const ShardService& svc, wire::SearchRequest r, std::uint32_t shards) {
    std::vector<std::vector<GlobalHit>> lists;
    for (std::uint32_t s = 0; s < shards; ++s) {
        r.shard = s;
        auto resp = svc.search(r);
        EXPECT_EQ(resp.shard, s);
        EXPECT_EQ(resp.ids.at(0).size(), resp.results.at(0).size());
        lists.push_back(resp.results.at(0));
    }
    return merge_topk(lists, r.k);
}

TEST(ShardService, AnswersMergeToTheLocalIndexSearch) {
    const test::ScratchDir dir;
    const auto idx = build_index(dir, 3);
    const auto svc = ShardService::open(idx, {});
    const auto local = LocalIndex::open(idx);
    const auto corpus = read_corpus(dir.file("c.h5"));
    std::vector<double> lat;
    seismic::SearchParams sp;
    sp.k = 10;
    const auto want_sparse = local.search_sparse(*corpus.query_sparse, sp, 1, &lat);
    dense::SearchParams dp;
    dp.k = 10;
    const auto want_dense = local.search_dense(*corpus.query_dense, dp, 1, &lat);
    for (std::size_t q = 0; q < corpus.n_queries(); ++q) {
        auto r = request(0, wire::Route::sparse, 10);
        const auto row = corpus.query_sparse->row(q);
        r.queries.push_back({{row.indices.begin(), row.indices.end()}, {row.values.begin(), row.values.end()}, {}});
        EXPECT_EQ(fan_out(svc, r, 3), want_sparse[q]) << "sparse query " << q;
        auto d = request(0, wire::Route::dense, 10);
        const auto drow = corpus.query_dense->row(q);
        d.queries.push_back({{}, {}, {drow.begin(), drow.end()}});
        EXPECT_EQ(fan_out(svc, d, 3), want_dense[q]) << "dense query " << q;
        d.exact = true;
        const auto exact = local.search_dense_exact(*corpus.query_dense, 10, 1, &lat);
        EXPECT_EQ(fan_out(svc, d, 3), exact[q]) << "exact dense query " << q;
    }
    // Ids travel with the hits.
    auto r = request(1, wire::Route::sparse, 3);
    const auto row = corpus.query_sparse->row(0);
    r.queries.push_back({{row.indices.begin(), row.indices.end()}, {row.values.begin(), row.values.end()}, {}});
    const auto resp = svc.search(r);
    for (std::size_t i = 0; i < resp.results[0].size(); ++i) EXPECT_EQ(resp.ids[0][i], local.doc_id(resp.results[0][i].doc));
}

TEST(ShardService, KnobsGivenOverrideTheWorkerDefaultsAndKnnZeroTurnsTheGraphOff) {
    const test::ScratchDir dir;
    const auto idx = build_index(dir, 1, 5);
    SearchDefaults defaults;
    defaults.sparse.first_sorted = true;  // and knn: every neighbour the graph holds
    defaults.sparse.query_cut = 3;
    const auto svc = ShardService::open(idx, {}, defaults);
    const auto local = LocalIndex::open(idx);
    const auto corpus = read_corpus(dir.file("c.h5"));
    std::vector<double> lat;
    const auto local_search = [&](std::uint32_t knn, bool first_sorted) {
        auto sp = defaults.sparse;
        sp.knn = knn;
        sp.first_sorted = first_sorted;
        return local.search_sparse(*corpus.query_sparse, sp, 1, &lat);
    };
    const auto with_graph = local_search(5, true);
    const auto without = local_search(0, true);
    const auto unsorted = local_search(5, false);
    std::size_t differ = 0;
    for (std::size_t q = 0; q < corpus.n_queries(); ++q) {
        auto r = request(0, wire::Route::sparse, 10);
        const auto row = corpus.query_sparse->row(q);
        r.queries.push_back({{row.indices.begin(), row.indices.end()}, {row.values.begin(), row.values.end()}, {}});
        EXPECT_EQ(fan_out(svc, r, 1), with_graph[q]) << "no knobs: the worker's defaults, query " << q;
        r.knobs.knn = 0U;
        EXPECT_EQ(fan_out(svc, r, 1), without[q]) << "knn 0, query " << q;
        r.knobs = {};
        r.knobs.first_sorted = false;
        EXPECT_EQ(fan_out(svc, r, 1), unsorted[q]) << "first_sorted false, query " << q;
        differ += static_cast<std::size_t>(with_graph[q] != without[q]) + (with_graph[q] != unsorted[q]);
    }
    EXPECT_GT(differ, 0U) << "the knobs change some answer, so the checks above tell them apart";
}

wire::ErrorCode refusal(const ShardService& svc, const wire::SearchRequest& r) {
    try {
        (void)svc.search(r);
    } catch (const RequestError& e) {
        return e.code();
    }
    ADD_FAILURE() << "request was not refused";
    return wire::ErrorCode::internal;
}

TEST(ShardService, RefusesBadRequestsWithWireCodes) {
    const test::ScratchDir dir;
    const auto idx = build_index(dir, 2);
    const auto svc = ShardService::open(idx, {1});
    EXPECT_EQ(svc.shards().size(), 1U);
    const auto sparse = [](std::vector<std::uint32_t> i, std::vector<float> v) {
        auto r = request(1, wire::Route::sparse, 10);
        r.queries.push_back({std::move(i), std::move(v), {}});
        return r;
    };
    auto other = sparse({1}, {1.0F});
    other.shard = 0;
    EXPECT_EQ(refusal(svc, other), wire::ErrorCode::unknown_shard);
    auto k0 = sparse({1}, {1.0F});
    k0.k = 0;
    EXPECT_EQ(refusal(svc, k0), wire::ErrorCode::bad_request);
    EXPECT_EQ(refusal(svc, sparse({5, 2}, {1.0F, 1.0F})), wire::ErrorCode::bad_request) << "unsorted";
    EXPECT_EQ(refusal(svc, sparse({2, 2}, {1.0F, 1.0F})), wire::ErrorCode::bad_request) << "duplicate";
    EXPECT_EQ(refusal(svc, sparse({40000}, {1.0F})), wire::ErrorCode::bad_request) << "out of range";
    EXPECT_EQ(refusal(svc, sparse({3}, {std::nanf("")})), wire::ErrorCode::bad_request) << "NaN";
    auto d = request(1, wire::Route::dense, 10);
    d.queries.push_back({{}, {}, std::vector<float>(7, 0.5F)});
    EXPECT_EQ(refusal(svc, d), wire::ErrorCode::bad_request) << "dense dimension";
    auto hf = sparse({1}, {1.0F});
    hf.knobs.heap_factor = -2.0F;
    EXPECT_EQ(refusal(svc, hf), wire::ErrorCode::bad_request) << "heap_factor";
    auto qc0 = sparse({1}, {1.0F});
    qc0.knobs.query_cut = 0U;  // given, not the default
    EXPECT_EQ(refusal(svc, qc0), wire::ErrorCode::bad_request) << "query_cut 0";
    auto ef0 = request(1, wire::Route::dense, 10);
    ef0.queries.push_back({{}, {}, std::vector<float>(8, 0.5F)});
    ef0.knobs.ef_search = 0U;
    EXPECT_EQ(refusal(svc, ef0), wire::ErrorCode::bad_request) << "ef_search 0";
    // Empty queries are fine and return nothing.
    EXPECT_TRUE(svc.search(sparse({}, {})).results.at(0).empty());
    EXPECT_THROW((void)ShardService::open(idx, {7}), UsageError);
}

TEST(ShardService, ParsesShardLists) {
    EXPECT_TRUE(parse_shard_list("all").empty());
    EXPECT_EQ(parse_shard_list("0,2,5"), (std::vector<std::uint32_t>{0, 2, 5}));
    EXPECT_EQ(parse_shard_list("1-3,7"), (std::vector<std::uint32_t>{1, 2, 3, 7}));
    EXPECT_THROW((void)parse_shard_list("1,x"), UsageError);
    EXPECT_THROW((void)parse_shard_list("3-1"), UsageError);
    EXPECT_THROW((void)parse_shard_list("-1"), UsageError);
}

}  // namespace
}  // namespace aftershock::worker
