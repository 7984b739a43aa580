// The synthetic corpus generator: determinism, validity, calibration against the real SPLADE++ statistics
// (docs/GENERATOR.md), topical neighbour structure, dense vectors, and the round trip through a corpus file.
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/generator.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <vector>

namespace aftershock {
namespace {

struct Moments {
    double mean = 0.0;
    double sd = 0.0;
};

Moments row_nnz_moments(const CsrMatrix& m) {
    double sum = 0.0;
    double sq = 0.0;
    for (std::size_t r = 0; r < m.n_rows(); ++r) {
        const auto n = static_cast<double>(m.indptr[r + 1] - m.indptr[r]);
        sum += n;
        sq += n * n;
    }
    const auto rows = static_cast<double>(m.n_rows());
    const double mean = sum / rows;
    return {mean, std::sqrt(std::max(0.0, sq / rows - mean * mean))};
}

double quantile(std::vector<float> v, double p) {
    const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

/// Fraction of rows that contain `term`.
double row_frequency(const CsrMatrix& m, std::uint32_t term) {
    std::size_t hits = 0;
    for (std::size_t r = 0; r < m.n_rows(); ++r) {
        const auto row = m.row(r);
        hits += std::binary_search(row.indices.begin(), row.indices.end(), term) ? 1 : 0;
    }
    return static_cast<double>(hits) / static_cast<double>(m.n_rows());
}

/// Exact top-k document indices by sparse inner product (term at a time over a transposed copy).
std::vector<std::vector<std::uint32_t>> exact_topk(const CsrMatrix& docs, const CsrMatrix& queries, std::size_t k) {
    std::vector<std::vector<std::pair<std::uint32_t, float>>> postings(docs.dim);
    for (std::size_t d = 0; d < docs.n_rows(); ++d) {
        const auto row = docs.row(d);
        for (std::size_t j = 0; j < row.size(); ++j)
            postings[row.indices[j]].emplace_back(static_cast<std::uint32_t>(d), row.values[j]);
    }
    std::vector<std::vector<std::uint32_t>> out;
    std::vector<float> acc(docs.n_rows());
    std::vector<std::uint32_t> order(docs.n_rows());
    for (std::size_t q = 0; q < queries.n_rows(); ++q) {
        std::fill(acc.begin(), acc.end(), 0.0F);
        const auto row = queries.row(q);
        for (std::size_t j = 0; j < row.size(); ++j)
            for (const auto& [d, w] : postings[row.indices[j]]) acc[d] += w * row.values[j];
        std::iota(order.begin(), order.end(), 0U);
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                          [&](auto a, auto b) { return acc[a] > acc[b] || (acc[a] == acc[b] && a < b); });
        out.emplace_back(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k));
    }
    return out;
}

bool same_matrix(const CsrMatrix& a, const CsrMatrix& b) {
    return a.dim == b.dim && a.indptr == b.indptr && a.indices == b.indices && a.data == b.data;
}

/// Rows [begin, end) of m as a block whose indptr starts at 0.
CsrMatrix slice(const CsrMatrix& m, std::size_t begin, std::size_t end) {
    CsrMatrix out;
    out.dim = m.dim;
    for (auto r = begin; r < end; ++r) {
        const auto row = m.row(r);
        out.append_row(row.indices, row.values);
    }
    return out;
}

double dot(std::span<const float> a, std::span<const float> b) {
    double s = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
}

/// Share of each query's exact top-10 on the seed document's topic, and how often the seed is in it / first.
struct TopicalStats {
    double on_topic = 0.0;
    double seed_in_top10 = 0.0;
    double seed_first = 0.0;
};

TopicalStats topical_stats(const GeneratorOptions& opt) {
    const CorpusGenerator gen(opt);
    const auto top = exact_topk(generate_docs(opt, 0, opt.n_docs), generate_queries(opt), 10);
    TopicalStats s;
    for (std::size_t q = 0; q < top.size(); ++q) {
        const auto seed = gen.query_seed_doc(q);
        const auto topic = gen.doc_topics(seed).primary;
        for (auto d : top[q]) {
            const auto t = gen.doc_topics(d);
            s.on_topic += (t.primary == topic || t.secondary == topic) ? 0.1 : 0.0;
        }
        s.seed_in_top10 += std::find(top[q].begin(), top[q].end(), seed) != top[q].end() ? 1.0 : 0.0;
        s.seed_first += top[q][0] == seed ? 1.0 : 0.0;
    }
    const auto n = static_cast<double>(top.size());
    return {s.on_topic / n, s.seed_in_top10 / n, s.seed_first / n};
}

GeneratorOptions small_options() {
    GeneratorOptions opt;
    opt.n_docs = 3000;
    opt.n_queries = 200;
    opt.seed = 7;
    return opt;
}

TEST(Generator, SameSeedGivesIdenticalOutput) {
    const auto opt = small_options();
    const CorpusGenerator a(opt);
    const CorpusGenerator b(opt);
    EXPECT_TRUE(same_matrix(a.docs(0, 500), b.docs(0, 500)));
    EXPECT_TRUE(same_matrix(a.queries(0, 200), b.queries(0, 200)));

    auto other = opt;
    other.seed = 8;
    const CorpusGenerator c(other);
    EXPECT_FALSE(same_matrix(a.docs(0, 500), c.docs(0, 500)));
    EXPECT_FALSE(same_matrix(a.queries(0, 200), c.queries(0, 200)));
}

TEST(Generator, ThreadCountAndBlockingDoNotChangeOutput) {
    auto opt = small_options();
    opt.threads = 1;
    const auto docs1 = generate_docs(opt, 0, opt.n_docs);
    const auto queries1 = generate_queries(opt);
    for (unsigned threads : {2U, 3U}) {
        opt.threads = threads;
        EXPECT_TRUE(same_matrix(docs1, generate_docs(opt, 0, opt.n_docs))) << threads << " threads";
        EXPECT_TRUE(same_matrix(queries1, generate_queries(opt))) << threads << " threads";
    }
    // A document depends only on (options, its index): any block boundary gives the same rows.
    const CorpusGenerator gen(opt);
    EXPECT_TRUE(same_matrix(slice(docs1, 1234, 1300), gen.docs(1234, 1300)));
    EXPECT_TRUE(same_matrix(slice(queries1, 50, 60), gen.queries(50, 60)));
}

TEST(Generator, OutputIsValidCsr) {
    const auto opt = small_options();
    const CorpusGenerator gen(opt);
    const auto docs = gen.docs(0, opt.n_docs);
    const auto queries = gen.queries(0, opt.n_queries);
    EXPECT_NO_THROW(validate_csr(docs, "generated docs"));
    EXPECT_NO_THROW(validate_csr(queries, "generated queries"));
    EXPECT_EQ(docs.dim, 30522U);
    EXPECT_EQ(docs.n_rows(), opt.n_docs);
    EXPECT_EQ(queries.n_rows(), opt.n_queries);
    for (std::size_t r = 0; r < docs.n_rows(); ++r) ASSERT_GE(docs.row(r).size(), 16U) << "doc " << r;
    for (std::size_t r = 0; r < queries.n_rows(); ++r) ASSERT_GE(queries.row(r).size(), 1U) << "query " << r;

    auto small_dim = opt;
    small_dim.dim = 2000;
    const CorpusGenerator gen2(small_dim);
    const auto docs2 = gen2.docs(0, 500);
    EXPECT_NO_THROW(validate_csr(docs2, "generated docs, dim 2000"));
    EXPECT_NO_THROW(validate_csr(gen2.queries(0, 100), "generated queries, dim 2000"));
    EXPECT_EQ(docs2.dim, 2000U);
}

TEST(Generator, PopularRanksMapToRealBertIds) {
    const CorpusGenerator gen(small_options());
    EXPECT_EQ(gen.term_of_rank(1), 2003U);  // "is", the most frequent SPLADE++ query term
    EXPECT_EQ(gen.term_of_rank(2), 1000U);  // '"'
    std::vector<std::uint32_t> ids;
    for (std::uint32_t r = 1; r <= 30522; ++r) ids.push_back(gen.term_of_rank(r));
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());  // a permutation of the vocabulary
    // The reserved ids ([PAD], [unusedN], [CLS], ...) are the least popular.
    for (std::uint32_t r = 30522 - 998; r <= 30522; ++r) EXPECT_LT(gen.term_of_rank(r), 999U);
    EXPECT_THROW((void)gen.term_of_rank(0), UsageError);
}

// Targets measured on the 6,980 SPLADE++ED MS MARCO dev queries (DATA.md, "Calibration facts").
TEST(Generator, QueryStatisticsMatchRealSplade) {
    GeneratorOptions opt;
    opt.n_docs = 100000;
    opt.n_queries = 10000;
    const CorpusGenerator gen(opt);
    const auto queries = generate_queries(opt);

    const auto nnz = row_nnz_moments(queries);
    EXPECT_NEAR(nnz.mean, 43.9, 3.0);
    EXPECT_NEAR(nnz.sd, 16.2, 3.0);

    // Weight quantiles within 10% (relative).
    const std::pair<double, double> weight_targets[] = {{0.25, 0.111}, {0.50, 0.268}, {0.75, 0.617}, {0.95, 2.10}};
    for (const auto& [p, target] : weight_targets)
        EXPECT_NEAR(quantile(queries.data, p), target, 0.10 * target) << "weight quantile " << p;
    double max_sum = 0.0;
    for (std::size_t r = 0; r < queries.n_rows(); ++r) {
        const auto v = queries.row(r).values;
        max_sum += *std::max_element(v.begin(), v.end());
    }
    EXPECT_NEAR(max_sum / static_cast<double>(queries.n_rows()), 2.72, 0.2) << "mean largest weight";

    // Term popularity: fraction of queries holding the term of rank r, within 15% (25% at rank 1,000, where
    // 10,000 queries hold only about 100 of them).
    const std::tuple<std::uint32_t, double, double> freq_targets[] = {
        {1, 0.151, 0.15}, {10, 0.092, 0.15}, {100, 0.060, 0.15}, {1000, 0.0103, 0.25}};
    for (const auto& [rank, target, tol] : freq_targets)
        EXPECT_NEAR(row_frequency(queries, gen.term_of_rank(rank)), target, tol * target) << "rank " << rank;
    // Popularity falls steeply: the rank-5,000 term is about 200 times rarer than the top one.
    EXPECT_LT(row_frequency(queries, gen.term_of_rank(5000)), 0.005);
}

TEST(Generator, DocumentStatisticsMatchTargets) {
    GeneratorOptions opt;
    opt.n_docs = 5000;
    opt.n_queries = 0;
    const auto docs = generate_docs(opt, 0, opt.n_docs);
    const auto nnz = row_nnz_moments(docs);
    EXPECT_GE(nnz.mean, 120.0);
    EXPECT_LE(nnz.mean, 150.0);
    EXPECT_GT(nnz.sd, 15.0);  // lengths vary, as real passages do
    // Weights follow the real SPLADE++ toy documents: median 0.278, p95 1.41.
    EXPECT_NEAR(quantile(docs.data, 0.50), 0.278, 0.1 * 0.278);
    EXPECT_NEAR(quantile(docs.data, 0.95), 1.41, 0.1 * 1.41);
}

TEST(Generator, ExactNeighboursAreTopical) {
    GeneratorOptions opt;
    opt.n_docs = 20000;
    opt.n_queries = 200;
    const auto stats = topical_stats(opt);
    // By chance a document shares a given topic with probability about 1.35 / 80 topics; here most do.
    EXPECT_GT(stats.on_topic, 0.6);
    // The seed document is usually among the top 10, but far from always first: topic neighbours compete.
    EXPECT_GT(stats.seed_in_top10, 0.5);
    EXPECT_LT(stats.seed_first, 0.8);
}

TEST(Generator, DenseVectorsFollowTopics) {
    auto opt = small_options();
    opt.n_docs = 2000;
    opt.dense_dim = 64;
    const CorpusGenerator gen(opt);
    const auto docs = gen.doc_dense(0, opt.n_docs);
    const auto queries = gen.query_dense(0, opt.n_queries);
    EXPECT_EQ(docs.metric, Metric::cosine);
    for (std::size_t i = 0; i < docs.n; ++i) ASSERT_NEAR(dot(docs.row(i), docs.row(i)), 1.0, 1e-4);
    for (std::size_t i = 0; i < queries.n; ++i) ASSERT_NEAR(dot(queries.row(i), queries.row(i)), 1.0, 1e-4);

    double same = 0.0;
    double other = 0.0;
    std::size_t n_same = 0;
    std::size_t n_other = 0;
    for (std::size_t i = 0; i < 400; ++i) {
        for (std::size_t j = i + 1; j < 400; ++j) {
            const bool same_topic = gen.doc_topics(i).primary == gen.doc_topics(j).primary;
            (same_topic ? same : other) += dot(docs.row(i), docs.row(j));
            ++(same_topic ? n_same : n_other);
        }
    }
    ASSERT_GT(n_same, 0U);
    EXPECT_GT(same / static_cast<double>(n_same), other / static_cast<double>(n_other) + 0.2);
    double seed_cos = 0.0;
    for (std::size_t q = 0; q < queries.n; ++q) seed_cos += dot(queries.row(q), docs.row(gen.query_seed_doc(q)));
    EXPECT_GT(seed_cos / static_cast<double>(queries.n), 0.5);
    // Dense vectors come from their own random streams: the sparse rows do not change.
    auto sparse_only = opt;
    sparse_only.dense_dim = 0;
    EXPECT_TRUE(same_matrix(gen.docs(0, 100), CorpusGenerator(sparse_only).docs(0, 100)));
}

TEST(Generator, CorpusFileRoundTrip) {
    test::ScratchDir dir;
    const auto path = dir.file("gen.h5");
    auto opt = small_options();
    opt.n_docs = 2000;
    opt.n_queries = 50;
    opt.dense_dim = 16;
    opt.threads = 2;
    const auto stats = generate_corpus(opt, path);
    EXPECT_EQ(stats.docs, 2000U);
    EXPECT_EQ(stats.queries, 50U);
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

    const auto info = describe_corpus(path);
    EXPECT_EQ(info.n_docs, 2000U);
    EXPECT_EQ(info.n_queries, 50U);
    EXPECT_EQ(info.dim, 30522U);
    EXPECT_EQ(info.dense_dim, 16U);
    EXPECT_EQ(info.metric, Metric::cosine);
    EXPECT_EQ(info.doc_nnz, stats.doc_nnz);

    const auto corpus = read_corpus(path);
    const CorpusGenerator gen(opt);
    ASSERT_TRUE(corpus.doc_sparse && corpus.query_sparse && corpus.doc_dense && corpus.query_dense);
    EXPECT_TRUE(same_matrix(*corpus.doc_sparse, gen.docs(0, opt.n_docs)));
    EXPECT_TRUE(same_matrix(*corpus.query_sparse, gen.queries(0, opt.n_queries)));
    EXPECT_EQ(corpus.doc_dense->data, gen.doc_dense(0, opt.n_docs).data);
    EXPECT_EQ(corpus.query_dense->data, gen.query_dense(0, opt.n_queries).data);
    ASSERT_EQ(corpus.doc_ids.size(), 2000U);
    EXPECT_EQ(corpus.doc_ids.front(), "d0");
    EXPECT_EQ(corpus.doc_ids.back(), "d1999");
    ASSERT_EQ(corpus.query_ids.size(), 50U);
    EXPECT_EQ(corpus.query_ids[7], "q7");
}

TEST(Generator, RejectsBadOptions) {
    GeneratorOptions opt;
    opt.dim = 100;
    EXPECT_THROW(CorpusGenerator{opt}, UsageError);
    opt = {};
    opt.n_docs = 0;
    opt.n_queries = 10;
    EXPECT_THROW(CorpusGenerator{opt}, UsageError);
    const CorpusGenerator gen(small_options());
    EXPECT_THROW((void)gen.docs(10, 5), UsageError);
    EXPECT_THROW((void)gen.docs(0, 3001), UsageError);
    EXPECT_THROW((void)gen.doc_dense(0, 1), UsageError);  // dense_dim is 0
    EXPECT_THROW((void)generate_corpus(small_options(), ""), UsageError);
}

// Prints the "generated" column of the calibration table in docs/GENERATOR.md (about 30 s; run with
// --gtest_filter=Generator.DISABLED_CalibrationReport --gtest_also_run_disabled_tests).
TEST(Generator, DISABLED_CalibrationReport) {
    GeneratorOptions opt;
    opt.n_docs = 100000;
    opt.n_queries = 6980;  // as many as the real dev set, so distinct-term counts compare
    const CorpusGenerator gen(opt);
    const auto queries = generate_queries(opt);
    std::vector<std::size_t> nnz;
    for (std::size_t r = 0; r < queries.n_rows(); ++r) nnz.push_back(queries.row(r).size());
    std::sort(nnz.begin(), nnz.end());
    const auto m = row_nnz_moments(queries);
    std::printf("query nnz: mean %.1f, sd %.1f, p5 %zu, median %zu, p95 %zu, max %zu\n", m.mean, m.sd,
                nnz[nnz.size() * 5 / 100], nnz[nnz.size() / 2], nnz[nnz.size() * 95 / 100], nnz.back());
    std::printf("query weights:");
    for (double p : {0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0}) std::printf(" p%g %.3f", p * 100, quantile(queries.data, p));
    double max_sum = 0.0;
    for (std::size_t r = 0; r < queries.n_rows(); ++r) {
        const auto v = queries.row(r).values;
        max_sum += *std::max_element(v.begin(), v.end());
    }
    std::printf("\nmean largest query weight: %.2f\n", max_sum / static_cast<double>(queries.n_rows()));

    // Query frequency by popularity rank: of the generator's rank-r term, and re-ranked by observed frequency
    // (as the real figures are).
    std::vector<double> freq(opt.dim, 0.0);
    for (auto t : queries.indices) freq[t] += 1.0 / static_cast<double>(queries.n_rows());
    std::vector<double> observed(freq);
    std::sort(observed.rbegin(), observed.rend());
    for (std::uint32_t r : {1U, 10U, 100U, 1000U, 5000U})
        std::printf("rank %u: term of rank %.4f, re-ranked %.4f\n", r, freq[gen.term_of_rank(r)], observed[r - 1]);
    double sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0, n = 0.0;
    for (std::size_t r = 10; r <= 3000; ++r) {
        const double x = std::log(static_cast<double>(r));
        const double y = std::log(observed[r - 1]);
        sx += x, sy += y, sxx += x * x, sxy += x * y, n += 1.0;
    }
    std::printf("log-log slope over re-ranked ranks 10-3000: %.2f\n", (n * sxy - sx * sy) / (n * sxx - sx * sx));
    std::printf("distinct terms: %td\n", std::count_if(freq.begin(), freq.end(), [](double f) { return f > 0.0; }));

    const auto docs = gen.docs(0, 10000);
    const auto dm = row_nnz_moments(docs);
    std::printf("doc nnz (10,000 docs): mean %.1f, sd %.1f; weights:", dm.mean, dm.sd);
    for (double p : {0.05, 0.25, 0.5, 0.75, 0.95, 0.99}) std::printf(" p%g %.3f", p * 100, quantile(docs.data, p));
    std::printf("\n");

    for (std::uint64_t n_docs : {2000ULL, 20000ULL, 200000ULL}) {
        GeneratorOptions t;
        t.n_docs = n_docs;
        t.n_queries = 300;
        const auto s = topical_stats(t);
        std::printf("exact top-10 over %llu docs (%u topics): on the seed's topic %.2f, seed in top-10 %.2f, seed first %.2f\n",
                    static_cast<unsigned long long>(n_docs), CorpusGenerator(t).n_topics(), s.on_topic, s.seed_in_top10,
                    s.seed_first);
    }
}

}  // namespace
}  // namespace aftershock
