// The exact oracle against independent brute force: sparse (bit-exact scores, lower index wins ties) and
// dense (ip, cosine, l2 against double-precision brute force).
#include "aftershock/common/error.hpp"
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/groundtruth.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

namespace aftershock {
namespace {

CsrMatrix random_csr(std::size_t rows, std::uint32_t dim, std::size_t max_nnz, std::mt19937& rng, bool integer_values) {
    CsrMatrix m;
    m.dim = dim;
    std::uniform_int_distribution<std::size_t> nnz(0, max_nnz);
    std::uniform_int_distribution<std::uint32_t> term(0, dim - 1);
    std::uniform_int_distribution<int> small(1, 3);
    std::uniform_real_distribution<float> real(0.01F, 3.0F);
    for (std::size_t r = 0; r < rows; ++r) {
        std::set<std::uint32_t> terms;
        const auto n = nnz(rng);
        while (terms.size() < n) terms.insert(term(rng));
        std::vector<std::uint32_t> idx(terms.begin(), terms.end());
        std::vector<float> val;
        for (std::size_t j = 0; j < idx.size(); ++j) val.push_back(integer_values ? float(small(rng)) : real(rng));
        m.append_row(idx, val);
    }
    return m;
}

/// Independent brute force: densify the query, score every document, full sort.
std::vector<Hit> brute_force_sparse(const CsrMatrix& docs, const SparseView& q, std::size_t k) {
    std::vector<float> dense(docs.dim, 0.0F);
    for (std::size_t i = 0; i < q.size(); ++i) {
        if (q.indices[i] < docs.dim) dense[q.indices[i]] = q.values[i];
    }
    std::vector<Hit> all;
    for (std::size_t d = 0; d < docs.n_rows(); ++d) {
        const auto row = docs.row(d);
        float s = 0.0F;
        bool matched = false;
        for (std::size_t j = 0; j < row.size(); ++j) {
            if (dense[row.indices[j]] != 0.0F) {
                s += dense[row.indices[j]] * row.values[j];
                matched = true;
            }
        }
        if (matched) all.push_back({static_cast<DocIndex>(d), s});
    }
    std::sort(all.begin(), all.end(), [](const Hit& a, const Hit& b) { return ranks_before(a, b); });
    if (all.size() > k) all.resize(k);
    return all;
}

TEST(ExactSearch, SparseEqualsBruteForceExactly) {
    std::mt19937 rng(1);
    for (bool integer_values : {false, true}) {  // integer values make many exact ties
        const auto docs = random_csr(3000, 200, 30, rng, integer_values);
        auto queries = random_csr(60, 200, 12, rng, integer_values);
        const SparseExactIndex index(docs);
        for (unsigned threads : {1U, 2U}) {
            const auto got = index.search_batch(queries, 10, threads);
            for (std::size_t q = 0; q < queries.n_rows(); ++q) {
                EXPECT_EQ(got[q], brute_force_sparse(docs, queries.row(q), 10)) << "query " << q;
            }
        }
    }
}

TEST(ExactSearch, SparseEdgeCases) {
    std::mt19937 rng(2);
    const auto docs = random_csr(100, 50, 5, rng, false);
    const SparseExactIndex index(docs);
    SparseExactScratch scratch;
    EXPECT_TRUE(index.search({}, 10, scratch).empty()) << "empty query";
    const std::vector<std::uint32_t> far{70, 80};
    const std::vector<float> ones{1.0F, 1.0F};
    EXPECT_TRUE(index.search({far, ones}, 10, scratch).empty()) << "terms outside the vocabulary";
    // A rare term: fewer matches than k.
    std::vector<int> df(50, 0);
    for (auto t : docs.indices) ++df[t];
    std::uint32_t rare = 0;
    for (std::uint32_t t = 0; t < 50; ++t) {
        if (df[t] > 0 && (df[rare] == 0 || df[t] < df[rare])) rare = t;
    }
    const std::vector<std::uint32_t> one_term{rare};
    const std::vector<float> w{2.0F};
    const auto hits = index.search({one_term, w}, 1000, scratch);
    EXPECT_EQ(static_cast<int>(hits.size()), df[rare]);
    // The scratch is left clean: the same query twice gives the same answer.
    const std::vector<std::uint32_t> q{1, 2, 3};
    const std::vector<float> qv{1.0F, 0.5F, 0.25F};
    EXPECT_EQ(index.search({q, qv}, 5, scratch), index.search({q, qv}, 5, scratch));
}

TEST(ExactSearch, SparseEmptyDocumentsAreNeverReturned) {
    CsrMatrix docs;
    docs.dim = 4;
    docs.append_row(std::vector<std::uint32_t>{}, std::vector<float>{});
    docs.append_row(std::vector<std::uint32_t>{1}, std::vector<float>{1.0F});
    const SparseExactIndex index(docs);
    SparseExactScratch scratch;
    const std::vector<std::uint32_t> q{0, 1, 2, 3};
    const std::vector<float> qv{1, 1, 1, 1};
    const auto hits = index.search({q, qv}, 10, scratch);
    ASSERT_EQ(hits.size(), 1U);
    EXPECT_EQ(hits[0], (Hit{1, 1.0F}));
}

DenseMatrix random_dense(std::size_t n, std::size_t d, std::mt19937& rng, Metric metric, bool integers) {
    DenseMatrix m;
    m.n = n;
    m.d = d;
    m.metric = metric;
    std::normal_distribution<float> g(0.0F, 1.0F);
    std::uniform_int_distribution<int> small(-2, 2);
    for (std::size_t i = 0; i < n * d; ++i) m.data.push_back(integers ? float(small(rng)) : g(rng));
    return m;
}

std::vector<std::pair<double, DocIndex>> brute_force_dense(const DenseMatrix& docs, std::span<const float> q) {
    std::vector<std::pair<double, DocIndex>> all;
    double qn = 0;
    for (float v : q) qn += double(v) * v;
    for (std::size_t i = 0; i < docs.n; ++i) {
        double dot = 0;
        double dn = 0;
        double l2 = 0;
        for (std::size_t c = 0; c < docs.d; ++c) {
            const double x = docs.data[i * docs.d + c];
            dot += x * q[c];
            dn += x * x;
            l2 += (x - q[c]) * (x - q[c]);
        }
        double s = dot;
        if (docs.metric == Metric::cosine) s = dn > 0 && qn > 0 ? dot / std::sqrt(dn * qn) : 0.0;
        if (docs.metric == Metric::l2) s = -l2;
        all.emplace_back(s, static_cast<DocIndex>(i));
    }
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    return all;
}

TEST(ExactSearch, DenseMatchesDoublePrecisionBruteForce) {
    std::mt19937 rng(3);
    for (auto metric : {Metric::ip, Metric::cosine, Metric::l2}) {
        SCOPED_TRACE(std::string(to_string(metric)));
        const auto docs = random_dense(20000, 24, rng, metric, false);  // > one 8192-doc block
        const auto queries = random_dense(150, 24, rng, metric, false);  // > one 128-query block
        const DenseExactIndex index(docs);
        const auto batch = index.search_batch(queries, 10, 2);
        std::size_t compared = 0;  // ranks whose ids were compared: most must be, or the ids go unchecked
        for (std::size_t q = 0; q < queries.n; ++q) {
            const auto truth = brute_force_dense(docs, queries.row(q));
            const auto single = index.search(queries.row(q), 10);
            ASSERT_EQ(batch[q].size(), 10U);
            for (std::size_t j = 0; j < 10; ++j) {
                const double tol = 1e-4 * std::max(1.0, std::abs(truth[j].first));
                EXPECT_NEAR(batch[q][j].score, truth[j].first, tol);
                EXPECT_NEAR(single[j].score, truth[j].first, tol);
                if (!test::near_tie(truth, j, tol, [](const auto& t) { return t.first; })) {
                    EXPECT_EQ(batch[q][j].doc, truth[j].second) << "query " << q << " rank " << j;
                    EXPECT_EQ(single[j].doc, truth[j].second) << "query " << q << " rank " << j;
                    ++compared;
                }
            }
        }
        EXPECT_GT(compared, queries.n * 10 / 2);
    }
}

TEST(ExactSearch, DenseTiesGoToTheLowerIndex) {
    std::mt19937 rng(4);
    const auto docs = random_dense(3000, 8, rng, Metric::ip, true);  // small integers: exact sums, many ties
    const auto queries = random_dense(40, 8, rng, Metric::ip, true);
    const DenseExactIndex index(docs);
    const auto batch = index.search_batch(queries, 15, 1);
    for (std::size_t q = 0; q < queries.n; ++q) {
        const auto truth = brute_force_dense(docs, queries.row(q));
        for (std::size_t j = 0; j < 15; ++j) {
            EXPECT_EQ(batch[q][j].doc, truth[j].second);
            EXPECT_EQ(batch[q][j].score, static_cast<float>(truth[j].first));
        }
    }
}

TEST(ExactSearch, DenseWrongQueryDimensionIsAnError) {
    std::mt19937 rng(5);
    const DenseExactIndex index(random_dense(10, 4, rng, Metric::ip, false));
    const std::vector<float> q(5, 1.0F);
    EXPECT_THROW((void)index.search(q, 3), InputError);
}

TEST(GroundTruth, PadsShortRowsAndStoresL2Distances) {
    Corpus c;
    CsrMatrix docs;
    docs.dim = 3;
    docs.append_row(std::vector<std::uint32_t>{0}, std::vector<float>{1.0F});
    docs.append_row(std::vector<std::uint32_t>{1}, std::vector<float>{2.0F});
    CsrMatrix queries;
    queries.dim = 3;
    queries.append_row(std::vector<std::uint32_t>{1}, std::vector<float>{1.5F});
    c.doc_sparse = docs;
    c.query_sparse = queries;
    const auto gt = compute_groundtruth(c, SearchMode::sparse, 3, 1);
    EXPECT_EQ(gt.neighbors, (std::vector<std::int64_t>{1, -1, -1}));
    EXPECT_FLOAT_EQ(gt.distances[0], 3.0F);

    DenseMatrix d;
    d.n = 2;
    d.d = 2;
    d.data = {0, 0, 3, 4};
    d.metric = Metric::l2;
    DenseMatrix q = d;
    q.n = 1;
    q.data = {0, 0};
    c.doc_dense = d;
    c.query_dense = q;
    const auto dgt = compute_groundtruth(c, SearchMode::dense, 2, 1);
    EXPECT_EQ(dgt.neighbors, (std::vector<std::int64_t>{0, 1}));
    EXPECT_FLOAT_EQ(dgt.distances[1], 5.0F);
}

}  // namespace
}  // namespace aftershock
