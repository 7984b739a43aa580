// The exact oracle on real SPLADE vectors, checked against an independent brute force that reads the raw
// files itself (string tokens, double precision, no Aftershock parsing or CSR code).
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/import/importers.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string_view>
#include <unordered_map>

namespace aftershock {
namespace {

struct RawVector {
    std::string id;
    std::unordered_map<std::string, double> weights;
};

std::vector<RawVector> read_jsonl(const std::string& path) {
    std::vector<RawVector> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        const auto j = nlohmann::json::parse(line);
        RawVector v;
        v.id = j.at("id").is_string() ? j["id"].get<std::string>() : std::to_string(j["id"].get<long long>());
        for (const auto& [tok, w] : j.at("vector").items()) {
            if (w.get<double>() > 0) v.weights[tok] = w.get<double>();
        }
        out.push_back(std::move(v));
    }
    return out;
}

/// Anserini's token-repeat TSV, gunzipped with zlib directly: weight = count / 1000.
std::vector<RawVector> read_token_tsv(const std::string& path) {
    gzFile gz = gzopen(path.c_str(), "rb");
    EXPECT_NE(gz, nullptr);
    std::string text;
    std::vector<char> buf(1 << 20);
    int n = 0;
    while ((n = gzread(gz, buf.data(), static_cast<unsigned>(buf.size()))) > 0) text.append(buf.data(), static_cast<std::size_t>(n));
    gzclose(gz);
    std::vector<RawVector> out;
    std::string_view rest(text);
    while (!rest.empty()) {
        const auto eol = rest.find('\n');
        const auto line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
        if (line.empty()) continue;
        RawVector v;
        const auto tab = line.find('\t');
        v.id = std::string(line.substr(0, tab));
        // Repeats of a token are consecutive: count each run, then add it once.
        std::string_view toks = line.substr(tab + 1);
        std::string_view run;
        double count = 0;
        const auto flush = [&] {
            if (count > 0) v.weights[std::string(run)] += count;
        };
        while (!toks.empty()) {
            const auto sp = toks.find(' ');
            const auto tok = toks.substr(0, sp);
            toks = sp == std::string_view::npos ? std::string_view{} : toks.substr(sp + 1);
            if (tok.empty()) continue;
            if (tok == run) {
                ++count;
            } else {
                flush();
                run = tok;
                count = 1;
            }
        }
        flush();
        for (auto& [t, w] : v.weights) w /= 1000.0;
        out.push_back(std::move(v));
    }
    return out;
}

struct RawHit {
    std::string id;
    double score;
};

/// Term-at-a-time over string tokens in double precision; ties to the earlier document.
std::vector<std::vector<RawHit>> brute_force(const std::vector<RawVector>& docs, const std::vector<RawVector>& queries,
                                             std::size_t k) {
    std::unordered_map<std::string, std::vector<std::pair<std::size_t, double>>> postings;
    for (std::size_t d = 0; d < docs.size(); ++d) {
        for (const auto& [tok, w] : docs[d].weights) postings[tok].emplace_back(d, w);
    }
    std::vector<std::vector<RawHit>> out;
    for (const auto& q : queries) {
        std::vector<double> acc(docs.size(), 0.0);
        std::vector<bool> matched(docs.size(), false);
        for (const auto& [tok, w] : q.weights) {
            const auto it = postings.find(tok);
            if (it == postings.end()) continue;
            for (const auto& [d, dw] : it->second) {
                acc[d] += w * dw;
                matched[d] = true;
            }
        }
        std::vector<std::pair<double, std::size_t>> ranked;
        for (std::size_t d = 0; d < docs.size(); ++d) {
            if (matched[d]) ranked.emplace_back(acc[d], d);
        }
        std::sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
        std::vector<RawHit> hits;
        for (std::size_t i = 0; i < std::min(k, ranked.size()); ++i) hits.push_back({docs[ranked[i].second].id, ranked[i].first});
        out.push_back(std::move(hits));
    }
    return out;
}

/// Compares the oracle's top-k with the brute force: scores within 1e-5 relative, ids equal except where
/// two true scores are that close (either order is then exact).
void expect_equal_topk(const std::string& corpus_path, const std::vector<std::vector<RawHit>>& truth, std::size_t k) {
    const auto corpus = read_corpus(corpus_path);
    ASSERT_TRUE(corpus.doc_sparse && corpus.query_sparse);
    ASSERT_EQ(corpus.n_queries(), truth.size());
    const auto got = SparseExactIndex(*corpus.doc_sparse).search_batch(*corpus.query_sparse, k, 2);
    std::size_t compared = 0;
    for (std::size_t q = 0; q < truth.size(); ++q) {
        ASSERT_EQ(got[q].size(), truth[q].size()) << "query " << corpus.query_id(q);
        for (std::size_t j = 0; j < truth[q].size(); ++j) {
            const double want = truth[q][j].score;
            const double tol = 1e-5 * std::max(1e-3, std::abs(want));
            EXPECT_NEAR(got[q][j].score, want, tol) << "query " << corpus.query_id(q) << " rank " << j;
            if (!test::near_tie(truth[q], j, tol, [](const RawHit& h) { return h.score; })) {
                EXPECT_EQ(corpus.doc_id(got[q][j].doc), truth[q][j].id) << "query " << corpus.query_id(q) << " rank " << j;
                ++compared;
            }
        }
    }
    EXPECT_GT(compared, truth.size() * k / 2);
}

TEST(RealDataOracle, SeismicToySpladeMatchesBruteForce) {
    const auto docs = test::shared_data("seismic_toy_splade/documents.jsonl");
    const auto queries = test::shared_data("seismic_toy_splade/queries.jsonl");
    AFTERSHOCK_REQUIRE_SHARED(docs);
    test::ScratchDir dir;
    ImportOptions opt;
    opt.format = "jsonl";
    opt.docs = docs;
    opt.queries = queries;
    opt.out = dir.file("toy.h5");
    (void)import_corpus(opt);
    expect_equal_topk(opt.out, brute_force(read_jsonl(docs), read_jsonl(queries), 10), 10);
}

TEST(RealDataOracle, SpladeDevVectorsMatchBruteForce) {
    const auto tsv = test::shared_data("anserini_splade_queries_dev/topics.msmarco-passage.dev-subset.splade-pp-ed.tsv.gz");
    const auto vocab = test::shared_data("bert_vocab_npm/vocab.json");
    AFTERSHOCK_REQUIRE_SHARED(tsv);
    test::ScratchDir dir;
    ImportOptions opt;
    opt.format = "tsv-tokens";
    opt.docs = tsv;
    opt.vocab = vocab;
    opt.holdout = 1000;
    opt.out = dir.file("dev.h5");
    (void)import_corpus(opt);
    auto all = read_token_tsv(tsv);
    ASSERT_EQ(all.size(), 6980U);
    std::vector<RawVector> raw_queries(all.end() - 1000, all.end());
    all.resize(all.size() - 1000);
    expect_equal_topk(opt.out, brute_force(all, raw_queries, 10), 10);
}

}  // namespace
}  // namespace aftershock
