// DenseIndex (FAISS) against the exact oracle: flat equals DenseExactIndex for ip, cosine and l2; IVF-Flat
// probing every list is exact; HNSW and IVF-PQ reach a recall floor; serialisation round trips and build
// determinism; bad queries and bad bytes are refused with clear errors.
#include "aftershock/common/dense/dense_index.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/exact_search.hpp"
#include "dense_test_data.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <set>

namespace aftershock {
namespace {

using dense::DenseIndex;
using dense::IndexType;
using ::testing::HasSubstr;

dense::BuildParams params_for(IndexType type, std::size_t n, std::size_t d) {
    dense::BuildParams p;
    p.type = type;
    p.hnsw_m = 16;
    p.ef_construction = 100;
    p.nlist = 20;
    p.pq_m = 8;
    return dense::resolve(p, n, d);
}

/// Same ids in the same order, scores equal within float rounding.
void expect_same_hits(const std::vector<Hit>& got, const std::vector<Hit>& want, const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (std::size_t j = 0; j < want.size(); ++j) {
        EXPECT_EQ(got[j].doc, want[j].doc) << what << " rank " << j;
        EXPECT_NEAR(got[j].score, want[j].score, test::score_tolerance(want[j].score)) << what << " rank " << j;
    }
}

double recall(const std::vector<std::vector<Hit>>& got, const std::vector<std::vector<Hit>>& truth) {
    double sum = 0;
    for (std::size_t q = 0; q < truth.size(); ++q) {
        std::set<DocIndex> want;
        for (const auto& h : truth[q]) want.insert(h.doc);
        for (const auto& h : got[q]) sum += static_cast<double>(want.count(h.doc));
    }
    return sum / static_cast<double>(truth.size() * truth.front().size());
}

class DenseFlat : public ::testing::TestWithParam<Metric> {};

TEST_P(DenseFlat, EqualsDenseExactIndexBatchedAndOneByOne) {
    const auto docs = test::clustered_dense(3000, 24, GetParam(), 1);
    const auto queries = test::clustered_dense(60, 24, GetParam(), 2);
    const auto index = DenseIndex::build(docs, params_for(IndexType::flat, docs.n, docs.d));
    EXPECT_EQ(index.size(), docs.n);
    const DenseExactIndex exact(docs);
    const auto want = exact.search_batch(queries, 10, 1);
    dense::SearchParams sp;
    const auto batched = index.search(queries, sp, 2);
    ASSERT_EQ(batched.size(), queries.n);
    for (std::size_t q = 0; q < queries.n; ++q) {
        expect_same_hits(batched[q], want[q], "batched q" + std::to_string(q));
        expect_same_hits(index.search_one(queries.row(q), sp), want[q], "one q" + std::to_string(q));
    }
}

INSTANTIATE_TEST_SUITE_P(Metrics, DenseFlat, ::testing::Values(Metric::ip, Metric::cosine, Metric::l2),
                         [](const auto& param_info) { return std::string(to_string(param_info.param)); });

TEST(DenseIndex, CosineNormalisesRowsAndQueries) {
    auto docs = test::clustered_dense(500, 16, Metric::cosine, 3);
    const auto queries = test::clustered_dense(20, 16, Metric::cosine, 4);
    const auto index = DenseIndex::build(docs, params_for(IndexType::flat, docs.n, docs.d));
    // Scores are cosines computed in double precision from the raw rows.
    const auto cosine = [&](std::span<const float> a, std::span<const float> b) {
        double ab = 0, aa = 0, bb = 0;
        for (std::size_t i = 0; i < a.size(); ++i) {
            ab += double(a[i]) * b[i];
            aa += double(a[i]) * a[i];
            bb += double(b[i]) * b[i];
        }
        return ab / std::sqrt(aa * bb);
    };
    dense::SearchParams sp;
    const auto hits = index.search(queries, sp, 1);
    for (std::size_t q = 0; q < queries.n; ++q) {
        for (const auto& h : hits[q]) EXPECT_NEAR(h.score, cosine(queries.row(q), docs.row(h.doc)), 1e-5) << q;
        // A scaled query finds the same documents with the same scores.
        std::vector<float> scaled(queries.row(q).begin(), queries.row(q).end());
        for (float& v : scaled) v *= 7.5F;
        expect_same_hits(index.search_one(scaled, sp), hits[q], "scaled query");
    }
    // Scaling the documents does not change the answers either.
    for (std::size_t i = 0; i < docs.n; ++i) {
        for (std::size_t j = 0; j < docs.d; ++j) docs.data[i * docs.d + j] *= static_cast<float>(1 + i % 5);
    }
    const auto rescaled = DenseIndex::build(docs, params_for(IndexType::flat, docs.n, docs.d)).search(queries, sp, 1);
    for (std::size_t q = 0; q < queries.n; ++q) expect_same_hits(rescaled[q], hits[q], "scaled docs");
}

TEST(DenseIndex, IvfFlatProbingEveryListIsExact) {
    for (auto metric : {Metric::ip, Metric::l2}) {
        const auto docs = test::clustered_dense(2000, 16, metric, 5);
        const auto queries = test::clustered_dense(40, 16, metric, 6);
        const auto p = params_for(IndexType::ivf_flat, docs.n, docs.d);
        const auto index = DenseIndex::build(docs, p);
        dense::SearchParams sp;
        sp.nprobe = p.nlist;
        const auto want = DenseExactIndex(docs).search_batch(queries, 10, 1);
        const auto got = index.search(queries, sp, 1);
        for (std::size_t q = 0; q < queries.n; ++q) expect_same_hits(got[q], want[q], "ivf-flat q" + std::to_string(q));
        // One list of 20 misses some true neighbours on this clustered data: nprobe is applied.
        sp.nprobe = 1;
        EXPECT_LT(recall(index.search(queries, sp, 1), want), 1.0);
    }
}

TEST(DenseIndex, HnswAndIvfPqReachRecallFloors) {
    const auto docs = test::clustered_dense(4000, 32, Metric::ip, 7);
    const auto queries = test::clustered_dense(50, 32, Metric::ip, 8);
    const auto truth = DenseExactIndex(docs).search_batch(queries, 10, 1);
    dense::SearchParams sp;
    const auto hnsw = DenseIndex::build(docs, params_for(IndexType::hnsw, docs.n, docs.d));
    sp.ef_search = 200;
    const double high = recall(hnsw.search(queries, sp, 1), truth);
    EXPECT_GE(high, 0.95);
    const auto pq = DenseIndex::build(docs, params_for(IndexType::ivf_pq, docs.n, docs.d));
    sp.nprobe = 20;
    EXPECT_GE(recall(pq.search(queries, sp, 1), truth), 0.4);
}

TEST(DenseIndex, EfSearchAboveFaissDefaultIsAppliedAndLeavesTheBytesAlone) {
    // A deliberately weak graph (M 4, efConstruction 16) on unclustered data: the candidate list matters.
    std::mt19937 rng(15);
    std::normal_distribution<float> g(0.0F, 1.0F);
    DenseMatrix docs{5000, 48, std::vector<float>(5000 * 48), Metric::l2};
    for (auto& v : docs.data) v = g(rng);
    DenseMatrix queries{50, 48, std::vector<float>(50 * 48), Metric::l2};
    for (auto& v : queries.data) v = g(rng);
    dense::BuildParams p;
    p.type = IndexType::hnsw;
    p.hnsw_m = 4;
    p.ef_construction = 16;
    const auto index = DenseIndex::build(docs, p);
    const auto bytes = index.serialize();
    const auto truth = DenseExactIndex(docs).search_batch(queries, 10, 1);
    dense::SearchParams sp;
    sp.ef_search = 16;  // FAISS's default
    const double at16 = recall(index.search(queries, sp, 1), truth);
    sp.ef_search = 400;
    const double at400 = recall(index.search(queries, sp, 1), truth);
    EXPECT_GT(at400, at16 + 0.05) << "ef_search 16: " << at16 << ", 400: " << at400;
    EXPECT_EQ(index.serialize(), bytes);
    sp.ef_search = 16;
    EXPECT_EQ(recall(index.search(queries, sp, 1), truth), at16);
}

TEST(DenseIndex, SerialisationRoundTripsAndBuildsAreDeterministic) {
    const auto docs = test::clustered_dense(1500, 16, Metric::l2, 9);
    const auto queries = test::clustered_dense(30, 16, Metric::l2, 10);
    for (auto type : {IndexType::flat, IndexType::hnsw, IndexType::ivf_flat, IndexType::ivf_pq}) {
        const auto p = params_for(type, docs.n, docs.d);
        const int saved = omp_get_max_threads();
        omp_set_num_threads(1);
        const auto a = DenseIndex::build(docs, p);
        omp_set_num_threads(2);  // the caller's thread count must not change the bytes
        const auto b = DenseIndex::build(docs, p);
        omp_set_num_threads(saved);
        const auto bytes = a.serialize();
        EXPECT_EQ(bytes, b.serialize()) << dense::to_string(type);
        const auto loaded = DenseIndex::deserialize(bytes, type, docs.d, Metric::l2, docs.n, "test");
        EXPECT_EQ(loaded.serialize(), bytes) << dense::to_string(type);
        dense::SearchParams sp;
        EXPECT_EQ(loaded.search(queries, sp, 1), a.search(queries, sp, 1)) << dense::to_string(type);
    }
}

TEST(DenseIndex, WrongQueryDimensionIsAClearError) {
    const auto docs = test::clustered_dense(300, 24, Metric::ip, 11);
    const auto index = DenseIndex::build(docs, params_for(IndexType::hnsw, docs.n, docs.d));
    const auto queries = test::clustered_dense(3, 23, Metric::ip, 12);
    dense::SearchParams sp;
    EXPECT_THAT(test::input_error_of([&] { (void)index.search(queries, sp, 1); }),
                HasSubstr("query dimension 23 does not match the dense index's 24"));
    EXPECT_THAT(test::input_error_of([&] { (void)index.search_one(queries.row(0), sp); }),
                HasSubstr("query dimension 23 does not match the dense index's 24"));
}

TEST(DenseIndex, BadBytesAndMismatchedShardAttributesAreRefused) {
    const auto docs = test::clustered_dense(400, 16, Metric::ip, 13);
    const auto p = params_for(IndexType::hnsw, docs.n, docs.d);
    const auto bytes = DenseIndex::build(docs, p).serialize();
    const auto load = [&](std::vector<std::uint8_t> b, IndexType t, std::size_t d, Metric m, std::size_t n) {
        return test::input_error_of([&] { (void)DenseIndex::deserialize(b, t, d, m, n, "shard-x:/dense/faiss"); });
    };
    EXPECT_THAT(load(bytes, IndexType::hnsw, 16, Metric::ip, 400), "<no InputError>");
    EXPECT_THAT(load({1, 2, 3, 4, 5, 6, 7, 8}, IndexType::hnsw, 16, Metric::ip, 400),
                HasSubstr("shard-x:/dense/faiss: FAISS cannot read the dense index"));
    EXPECT_THAT(load({}, IndexType::hnsw, 16, Metric::ip, 400), HasSubstr("FAISS cannot read"));
    EXPECT_THAT(load(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2)),
                     IndexType::hnsw, 16, Metric::ip, 400),
                HasSubstr("FAISS cannot read"));
    auto longer = bytes;
    longer.push_back(0);
    EXPECT_THAT(load(longer, IndexType::hnsw, 16, Metric::ip, 400), HasSubstr("1 trailing bytes"));
    EXPECT_THAT(load(bytes, IndexType::flat, 16, Metric::ip, 400), HasSubstr("the FAISS index is hnsw but the shard says flat"));
    EXPECT_THAT(load(bytes, IndexType::hnsw, 32, Metric::ip, 400), HasSubstr("dimension 16 but the shard says 32"));
    EXPECT_THAT(load(bytes, IndexType::hnsw, 16, Metric::l2, 400), HasSubstr("metric does not match the shard's l2"));
    EXPECT_THAT(load(bytes, IndexType::hnsw, 16, Metric::ip, 401), HasSubstr("holds 400 vectors but the shard has 401"));
}

TEST(DenseIndex, ParametersResolveAndValidate) {
    dense::BuildParams p;
    EXPECT_EQ(dense::resolve(p, 1000, 384).type, IndexType::flat);
    EXPECT_EQ(dense::resolve(p, dense::kAutoHnswMinVectors, 384).type, IndexType::hnsw);
    p.type = IndexType::ivf_pq;
    const auto r = dense::resolve(p, 200000, 384);
    EXPECT_EQ(r.pq_m, 96U);
    EXPECT_EQ(r.nlist, static_cast<std::uint32_t>(std::lround(4.0 * std::sqrt(200000.0))));
    EXPECT_EQ(dense::resolve(p, 10000, 100).pq_m, 25U);
    EXPECT_EQ(dense::resolve(p, 10000, 98).pq_m, 14U);  // 98/4 = 24 -> largest divisor of 98 not above it
    EXPECT_THROW((void)dense::resolve(p, 100, 384), UsageError);  // fewer vectors than 2^8 PQ centroids
    p.pq_m = 7;
    EXPECT_THROW((void)dense::resolve(p, 10000, 384), UsageError);
    EXPECT_EQ(dense::from_json(dense::to_json(r)).nlist, r.nlist);
    EXPECT_THROW((void)dense::parse_index_type("ivf"), UsageError);
}

}  // namespace
}  // namespace aftershock
