// The sweeps behind `aftershock bench` (sparse and dense): exact search first, then one point per setting in the
// options' order, each with the recall (and, sparse, the work and reachability) of the index's own search, measured in
// rounds whose per-round ratios give the speedups.
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/dense/sweep.hpp"
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/generator.hpp"
#include "aftershock/common/sweep.hpp"
#include "generated_index.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace aftershock {
namespace {

/// A sparse-only generated corpus in one shard under dir/idx (the corpus: dir/c.h5), with a kNN graph of 4.
std::string build_sweep_index(const test::ScratchDir& dir) {
    worker::ShardBuildOptions opt;
    opt.params.lambda = 80;
    opt.params.knn = 4;
    return test::generate_and_build_index(dir, {.n_docs = 1200, .n_queries = 16, .seed = 11}, opt, 1);
}

TEST(SparseSweep, ExactFirstThenEveryPointInOptionOrderWithItsOwnSearchsRecall) {
    const test::ScratchDir dir;
    const auto local = LocalIndex::open(build_sweep_index(dir));
    const auto corpus = dir.file("c.h5");
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
    const auto truth = as_global_hits(SparseExactIndex(docs).search_batch(first, opt.k, 1));
    EXPECT_EQ(points[0].method, "exact");
    EXPECT_EQ(points[0].recall, 1.0);
    EXPECT_GT(points[0].latency.mean, 0.0);
    EXPECT_EQ(points[0].speedup, 1.0);

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
                    EXPECT_GT(p.speedup_lowest, 0.0);
                    EXPECT_LE(p.speedup_lowest, p.speedup);
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

TEST(SparseSweep, PairsEachRoundOfAPointWithTheSameRoundOfExactSearch) {
    // Exact means 100, 300, 200; the point's 10, 20, 50: ratios 10, 15, 4. Unpaired, the median means (200 and 20) would
    // give 10.
    const std::vector<std::vector<double>> exact{{50.0, 150.0}, {300.0}, {200.0, 200.0}};
    const std::vector<std::vector<double>> point{{10.0}, {20.0, 20.0}, {40.0, 60.0}};
    const auto s = paired_speedup(exact, point);
    EXPECT_EQ(s.median, 10.0);
    EXPECT_EQ(s.lowest, 4.0);
    // An even count of rounds: the mean of the middle two ratios (4 and 10 of 2, 4, 10, 15).
    const auto even = paired_speedup({{100.0}, {300.0}, {200.0}, {40.0}}, {{10.0}, {20.0}, {50.0}, {20.0}});
    EXPECT_EQ(even.median, 7.0);
    EXPECT_EQ(even.lowest, 2.0);
    // A round without queries gives no ratio; none at all, zeros.
    EXPECT_EQ(paired_speedup({{}, {90.0}}, {{}, {30.0}}).median, 3.0);
    EXPECT_EQ(paired_speedup({{}}, {{}}).median, 0.0);
    EXPECT_THROW((void)paired_speedup({{1.0}}, {{1.0}, {1.0}}), Error);
}

TEST(SparseSweep, TimesExactSearchThenEveryPointInEachRound) {
    std::string order;
    double tick = 0.0;
    const auto lat = time_in_rounds(
        3, 2, [&](std::vector<double>& l) { order += 'E'; l = {++tick}; },
        [&](std::size_t c, std::vector<double>& l) { order += static_cast<char>('0' + c); l = {++tick}; }, "test");
    EXPECT_EQ(order, "E01E01E01");
    EXPECT_EQ(lat.exact, (std::vector<std::vector<double>>{{1.0}, {4.0}, {7.0}}));
    ASSERT_EQ(lat.points.size(), 2U);
    EXPECT_EQ(lat.points[0], (std::vector<std::vector<double>>{{2.0}, {5.0}, {8.0}}));
    EXPECT_EQ(lat.points[1], (std::vector<std::vector<double>>{{3.0}, {6.0}, {9.0}}));
    // No rounds asked is one round.
    order.clear();
    EXPECT_EQ(time_in_rounds(0, 1, [&](std::vector<double>&) { order += 'E'; },
                             [&](std::size_t, std::vector<double>&) { order += 'P'; }, "test")
                  .exact.size(),
              1U);
    EXPECT_EQ(order, "EP");
}

TEST(DenseSweep, ExactFirstThenEveryNprobeWithItsOwnSearchsRecall) {
    const test::ScratchDir dir;
    const GeneratorOptions g{.n_docs = 1500, .n_queries = 12, .seed = 5, .dense_dim = 24};
    worker::ShardBuildOptions build;
    build.params.lambda = 80;
    build.dense.type = dense::IndexType::ivf_flat;
    build.dense.nlist = 16;
    const auto local = LocalIndex::open(test::generate_and_build_index(dir, g, build, 2));
    const h5::File f(dir.file("c.h5"), h5::File::Mode::read);
    const auto docs = read_dense_rows(f, Side::docs, 0, g.n_docs);
    const auto queries = read_dense_rows(f, Side::queries, 0, g.n_queries);

    dense::SweepOptions opt;
    opt.nprobes = {1, 4, 16};
    opt.runs = 3;
    opt.batch_threads = 2;
    const auto points = dense::run_sweep(local, queries, opt);
    ASSERT_EQ(points.size(), 4U);
    EXPECT_EQ(points[0].method, "exact");
    EXPECT_EQ(points[0].recall, 1.0);
    EXPECT_EQ(points[0].speedup, 1.0);

    // The oracle: exact search straight from the corpus's vectors. The index sums in another order (FAISS, BLAS
    // kernels chosen by CPU), so the (k+1)-th score must be clearly below the k-th: a near-tie would make "every list
    // probed finds every neighbour" depend on rounding, not on the index.
    auto truth = as_global_hits(DenseExactIndex(docs).search_batch(queries, opt.k + 1, 1));
    for (auto& hits : truth) {
        ASSERT_EQ(hits.size(), opt.k + 1);
        const float kth = hits[opt.k - 1].score;
        ASSERT_GT(kth - hits[opt.k].score, 1e-4F * std::max(1.0F, std::abs(kth))) << "near-tie at rank " << opt.k;
        hits.pop_back();
    }
    for (std::size_t i = 0; i < opt.nprobes.size(); ++i) {
        const auto& p = points.at(i + 1);
        SCOPED_TRACE(testing::Message() << "nprobe " << opt.nprobes[i]);
        EXPECT_EQ(p.method, "ivf-flat");
        EXPECT_EQ(p.nprobe, opt.nprobes[i]);
        EXPECT_EQ(p.ef_search, 0U);
        dense::SearchParams sp;
        sp.nprobe = opt.nprobes[i];
        EXPECT_EQ(p.recall, recall_at_k(local.search_dense(queries, sp, 1), truth, opt.k));
        EXPECT_GT(p.latency.mean, 0.0);
        EXPECT_GT(p.speedup_lowest, 0.0);
        EXPECT_LE(p.speedup_lowest, p.speedup);
        EXPECT_GT(p.qps_batch, 0.0);
    }
    EXPECT_LT(points[1].recall, 1.0) << "one list of 16 found every neighbour: the sweep would not tell settings apart";
    EXPECT_EQ(points[3].recall, 1.0) << "every list probed is an exact scan";
}

}  // namespace
}  // namespace aftershock
