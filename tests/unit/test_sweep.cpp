// The sparse sweep behind `aftershock bench`: exact search first, then one point per setting in the options' order,
// each with the recall, work and reachability of the index's own search, measured in rounds.
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/generator.hpp"
#include "aftershock/common/sweep.hpp"
#include "generated_index.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

namespace aftershock {
namespace {

/// A sparse-only generated corpus in one shard under dir/idx, with a kNN graph of 4.
std::string build_sweep_index(const test::ScratchDir& dir, const std::string& corpus) {
    GeneratorOptions g;
    g.n_docs = 1200;
    g.n_queries = 16;
    g.seed = 11;
    (void)generate_corpus(g, corpus);
    worker::ShardBuildOptions opt;
    opt.corpus = corpus;
    opt.out_dir = dir.file("idx");
    opt.params.lambda = 80;
    opt.params.knn = 4;
    return test::build_generated_index(opt, 1);
}

TEST(SparseSweep, ExactFirstThenEveryPointInOptionOrderWithItsOwnSearchsRecall) {
    const test::ScratchDir dir;
    const auto corpus = dir.file("c.h5");
    const auto local = LocalIndex::open(build_sweep_index(dir, corpus));
    const h5::File f(corpus, h5::File::Mode::read);
    const auto info = describe_corpus(f);
    const auto docs = read_sparse_rows(f, Side::docs, 0, info.n_docs);
    const auto queries = read_sparse_rows(f, Side::queries, 0, info.n_queries);

    SweepOptions opt;
    opt.query_cuts = {3, 12};
    opt.heap_factors = {0.5F, 1.0F};
    opt.knns = {0, 4};
    opt.screen_entries = {0, 16};
    opt.max_queries = 12;  // of 16
    opt.runs = 3;
    const auto points = run_sweep(local, docs, queries, opt);
    ASSERT_EQ(points.size(), 1U + 2 * 2 * 2 * 2);

    // The oracle: exact search over the same first 12 queries, straight from the documents.
    CsrMatrix first;
    first.dim = queries.dim;
    for (std::size_t q = 0; q < 12; ++q) first.append_row(queries.row(q).indices, queries.row(q).values);
    const SparseExactIndex exact(docs);
    std::vector<std::vector<GlobalHit>> truth;
    for (const auto& hits : exact.search_batch(first, opt.k, 1)) {
        truth.emplace_back();
        for (const auto& h : hits) truth.back().push_back({h.doc, h.score});
    }
    EXPECT_EQ(points[0].method, "exact");
    EXPECT_EQ(points[0].recall, 1.0);
    EXPECT_GT(points[0].latency.mean, 0.0);

    std::size_t i = 1;
    bool some_below_one = false;
    for (auto knn : opt.knns) {
        for (auto qc : opt.query_cuts) {
            for (auto hf : opt.heap_factors) {
                for (auto screen : opt.screen_entries) {
                    const auto& p = points.at(i++);
                    SCOPED_TRACE(testing::Message() << "knn " << knn << " qc " << qc << " hf " << hf << " screen " << screen);
                    EXPECT_EQ(p.method, "seismic");
                    EXPECT_EQ(p.knn, knn);
                    EXPECT_EQ(p.query_cut, qc);
                    EXPECT_EQ(p.heap_factor, hf);
                    EXPECT_EQ(p.screen_entries, screen);
                    seismic::SearchParams sp;
                    sp.k = opt.k;
                    sp.query_cut = qc;
                    sp.heap_factor = hf;
                    sp.knn = knn;
                    sp.screen_entries = screen;
                    sp.screen_factor = opt.screen_factor;
                    seismic::SearchStats stats;
                    const auto got = local.search_sparse(first, sp, 1, nullptr, &stats);
                    EXPECT_EQ(p.recall, recall_at_k(got, truth, opt.k));
                    EXPECT_EQ(p.docs_scored, static_cast<double>(stats.docs_scored) / 12.0);
                    EXPECT_EQ(p.docs_full, static_cast<double>(stats.docs_scored - stats.docs_screened_out) / 12.0);
                    EXPECT_EQ(p.reachable, recall_at_k(local.reachable_sparse(first, truth, qc, opt.k), truth, opt.k));
                    EXPECT_GT(p.latency.mean, 0.0);
                    some_below_one = some_below_one || p.recall < 1.0;
                }
            }
        }
    }
    EXPECT_TRUE(some_below_one) << "every point exact: the sweep would not tell settings apart";
}

TEST(SparseSweep, KeepsTheRoundWithTheMedianMean) {
    const std::vector<std::vector<double>> rounds{{3.0, 5.0}, {1.0, 1.0}, {9.0, 0.0}, {2.0, 2.5}, {8.0, 8.0}};
    // Means 4, 1, 4.5, 2.25, 8: the median is 4.
    EXPECT_EQ(median_mean_run(rounds), (std::vector<double>{3.0, 5.0}));
    EXPECT_EQ(median_mean_run({{7.0}}), (std::vector<double>{7.0}));
}

}  // namespace
}  // namespace aftershock
