// Importers (`aftershock import`): a round trip per format with exact ids, indices and values; a bad-input
// catalogue whose errors name the file and line/row and leave no corpus behind; --append; real data.
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/hdf5.hpp"
#include "aftershock/common/import/importers.hpp"
#include "aftershock/common/import/line_reader.hpp"
#include "aftershock/common/import/vocabulary.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

namespace aftershock {
namespace {

namespace fs = std::filesystem;
using test::ScratchDir;
using ::testing::ElementsAre;
using ::testing::FloatEq;
using ::testing::HasSubstr;
using ::testing::Pointwise;

void write_gz(const std::string& path, const std::string& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
    gzclose(f);
}

/// Little-endian byte builder for binary fixtures.
struct Bytes {
    std::string buf;
    template <typename T> Bytes& put(T v) {
        buf.append(reinterpret_cast<const char*>(&v), sizeof v);
        return *this;
    }
    template <typename T> Bytes& put(const std::vector<T>& v) {
        for (const auto& x : v) put(x);
        return *this;
    }
};

std::vector<std::uint32_t> row_indices(const CsrMatrix& m, std::size_t r) {
    const auto v = m.row(r);
    return {v.indices.begin(), v.indices.end()};
}
std::vector<float> row_values(const CsrMatrix& m, std::size_t r) {
    const auto v = m.row(r);
    return {v.values.begin(), v.values.end()};
}

ImportOptions options(const std::string& format, const std::string& docs, const std::string& out) {
    ImportOptions o;
    o.format = format;
    o.docs = docs;
    o.out = out;
    return o;
}

/// Runs an import that must fail with InputError; returns the message and checks nothing was left behind.
std::string import_error(const ImportOptions& opt) {
    const bool existed = fs::exists(opt.out);
    std::string msg;
    try {
        (void)import_corpus(opt);
        ADD_FAILURE() << "expected InputError for " << opt.format << " " << opt.docs;
    } catch (const InputError& e) {
        msg = e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected InputError, got: " << e.what();
    }
    EXPECT_EQ(fs::exists(opt.out), existed) << "a failed import must not create or remove " << opt.out;
    EXPECT_FALSE(fs::exists(opt.out + ".tmp")) << "temporary file left behind";
    EXPECT_FALSE(fs::exists(opt.out + ".staging.tmp")) << "staging file left behind";
    return msg;
}

// ------------------------------------------------------------------------------------------ LineReader

TEST(LineReaderTest, PlainAndGzipLinesWithNumbersAndLongLines) {
    ScratchDir dir;
    const std::string long_line(300'000, 'x');
    const std::string text = "first\r\nsecond\n\n" + long_line + "\nlast-no-newline";
    test::write_text(dir.file("a.txt"), text);
    write_gz(dir.file("a.txt.gz"), text);
    for (const auto* name : {"a.txt", "a.txt.gz"}) {
        LineReader r(dir.file(name));
        EXPECT_EQ(r.compressed(), std::string(name).ends_with(".gz"));
        std::vector<std::string> lines;
        std::string_view line;
        while (r.next(line)) {
            lines.emplace_back(line);
            EXPECT_EQ(r.line_number(), lines.size());
        }
        ASSERT_EQ(lines.size(), 5U) << name;
        EXPECT_EQ(lines[0], "first");
        EXPECT_EQ(lines[1], "second");
        EXPECT_EQ(lines[2], "");
        EXPECT_EQ(lines[3], long_line);
        EXPECT_EQ(lines[4], "last-no-newline");
        EXPECT_FALSE(r.next(line));
    }
}

TEST(LineReaderTest, EmptyMissingAndTruncatedFiles) {
    ScratchDir dir;
    test::write_text(dir.file("empty.txt"), "");
    LineReader empty(dir.file("empty.txt"));
    std::string_view line;
    EXPECT_FALSE(empty.next(line));
    try {
        LineReader missing(dir.file("missing.txt"));
        FAIL() << "expected InputError";
    } catch (const InputError& e) {
        EXPECT_THAT(e.what(), HasSubstr("missing.txt"));
    }
    std::string text;
    for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i * 7919) + "\n";
    write_gz(dir.file("full.gz"), text);
    std::ifstream in(dir.file("full.gz"), std::ios::binary);
    std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    test::write_text(dir.file("cut.gz"), gz.substr(0, gz.size() / 2));
    LineReader cut(dir.file("cut.gz"));
    try {
        while (cut.next(line)) {
        }
        FAIL() << "expected InputError";
    } catch (const InputError& e) {
        EXPECT_THAT(e.what(), HasSubstr("cut.gz"));
        EXPECT_THAT(e.what(), HasSubstr("truncated"));
    }
}

// ------------------------------------------------------------------------------------------ Vocabulary

TEST(VocabularyTest, JsonListUsesBertSpelling) {
    ScratchDir dir;
    test::write_text(dir.file("v.json"), R"(["[PAD]", "▁", "▁the", "n", "[CLS]", "[", "▁["])");
    const auto v = Vocabulary::load(dir.file("v.json"));
    EXPECT_TRUE(v.fixed());
    EXPECT_THAT(v.tokens(), ElementsAre("[PAD]", "▁", "the", "##n", "[CLS]", "##[", "["));
    EXPECT_EQ(v.find("##n"), 3U);
    EXPECT_EQ(v.find("the"), 2U);
    EXPECT_FALSE(v.find("n"));
}

TEST(VocabularyTest, TextFileJsonObjectAndGrowing) {
    ScratchDir dir;
    test::write_text(dir.file("vocab.txt"), "[PAD]\n[unused0]\nthe\n##s\n");
    const auto t = Vocabulary::load(dir.file("vocab.txt"));
    EXPECT_THAT(t.tokens(), ElementsAre("[PAD]", "[unused0]", "the", "##s"));
    test::write_text(dir.file("obj.json"), R"({"b": 1, "a": 0, "##c": 2})");
    EXPECT_THAT(Vocabulary::load(dir.file("obj.json")).tokens(), ElementsAre("a", "b", "##c"));

    Vocabulary g;
    EXPECT_FALSE(g.fixed());
    EXPECT_EQ(g.add("x"), 0U);
    EXPECT_EQ(g.add("y"), 1U);
    EXPECT_EQ(g.add("x"), 0U);
    EXPECT_EQ(g.size(), 2U);
    EXPECT_EQ(g.token(1), "y");
}

TEST(VocabularyTest, BadVocabularyFiles) {
    ScratchDir dir;
    const auto error = [&](const std::string& name, const std::string& text) {
        test::write_text(dir.file(name), text);
        try {
            (void)Vocabulary::load(dir.file(name));
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        ADD_FAILURE() << "expected InputError for " << name;
        return std::string();
    };
    EXPECT_THAT(error("dup.txt", "a\nb\na\n"), HasSubstr("duplicate token 'a'"));
    EXPECT_THAT(error("dup.txt", "a\nb\na\n"), HasSubstr("dup.txt"));
    EXPECT_THAT(error("bad.json", R"(["a", "b")"), HasSubstr("bad.json"));
    EXPECT_THAT(error("num.json", R"(["a", 3])"), HasSubstr("entry 1"));
    EXPECT_THAT(error("empty.txt", ""), HasSubstr("empty vocabulary"));
    EXPECT_THAT(error("blank.txt", "a\n\nb\n"), HasSubstr("line 2"));
    EXPECT_THAT(error("ids.json", R"({"a": 0, "b": 5})"), HasSubstr("'b'"));
}

TEST(VocabularyTest, RealBertVocabJson) {
    const auto path = test::shared_data("bert_vocab_npm/vocab.json");
    AFTERSHOCK_REQUIRE_SHARED(path);
    const auto v = Vocabulary::load(path);
    EXPECT_EQ(v.size(), 30522U);
    EXPECT_EQ(v.find("the"), 1996U);
    EXPECT_EQ(v.find("brother"), 2567U);
    EXPECT_EQ(v.find("##n"), 2078U);
    EXPECT_EQ(v.find("[CLS]"), 101U);
    EXPECT_EQ(v.token(1), "▁");
}

// ------------------------------------------------------------------------------------------ jsonl

TEST(ImportJsonlTest, SparseRoundTripBuildsVocabulary) {
    ScratchDir dir;
    test::write_text(dir.file("docs.jsonl"),
               R"({"id": 0, "content": "a", "vector": {"b": 0.5, "a": 1.25, "z": 0}})"
               "\n"
               R"({"id": "d1", "contents": "{\"vector\": 1}", "vector": {"c": 2}})"
               "\n\n"
               R"({"docid": 7, "vector": {}})"
               "\n");
    test::write_text(dir.file("q.jsonl"), R"({"qid": "q1", "vector": {"a": 1, "unknown": 3, "c": 0.5}})"
                                    "\n");
    auto opt = options("jsonl", dir.file("docs.jsonl"), dir.file("c.h5"));
    opt.queries = dir.file("q.jsonl");
    opt.batch_rows = 2;
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.docs, 3U);
    EXPECT_EQ(st.queries, 1U);
    EXPECT_EQ(st.dim, 3U);
    EXPECT_EQ(st.doc_nnz, 3U);
    EXPECT_EQ(st.query_nnz, 2U);
    EXPECT_EQ(st.unknown_query_tokens, 1U);
    EXPECT_EQ(st.dropped_zero_weights, 1U);

    const auto c = read_corpus(opt.out);
    EXPECT_THAT(c.vocab, ElementsAre("b", "a", "c"));
    EXPECT_THAT(c.doc_ids, ElementsAre("0", "d1", "7"));
    EXPECT_THAT(c.query_ids, ElementsAre("q1"));
    ASSERT_TRUE(c.doc_sparse && c.query_sparse);
    EXPECT_EQ(c.doc_sparse->dim, 3U);
    EXPECT_THAT(row_indices(*c.doc_sparse, 0), ElementsAre(0U, 1U));
    EXPECT_THAT(row_values(*c.doc_sparse, 0), ElementsAre(0.5F, 1.25F));
    EXPECT_THAT(row_indices(*c.doc_sparse, 1), ElementsAre(2U));
    EXPECT_THAT(row_values(*c.doc_sparse, 1), ElementsAre(2.0F));
    EXPECT_TRUE(c.doc_sparse->row(2).empty());
    EXPECT_THAT(row_indices(*c.query_sparse, 0), ElementsAre(1U, 2U));
    EXPECT_THAT(row_values(*c.query_sparse, 0), ElementsAre(1.0F, 0.5F));
    const h5::File f(opt.out, h5::File::Mode::read);
    EXPECT_EQ(f.read_attr_u64("/queries/sparse", "dim"), 3U);
}

TEST(ImportJsonlTest, FixedVocabularyWeightScaleAndHoldout) {
    ScratchDir dir;
    test::write_text(dir.file("vocab.txt"), "[PAD]\na\nb\nc\n");
    test::write_text(dir.file("docs.jsonl"), R"({"id": 1, "vector": {"c": 10, "a": 20}})"
                                       "\n"
                                       R"({"id": 2, "vector": {"b": 5}})"
                                       "\n"
                                       R"({"id": 3, "vector": {"b": 1, "x": 4}})"
                                       "\n");
    auto opt = options("jsonl", dir.file("docs.jsonl"), dir.file("c.h5"));
    opt.vocab = dir.file("vocab.txt");
    opt.weight_scale = 10;
    opt.holdout = 1;
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.docs, 2U);
    EXPECT_EQ(st.queries, 1U);
    EXPECT_EQ(st.dim, 4U);
    EXPECT_EQ(st.unknown_query_tokens, 1U);  // "x" of the held-out record
    const auto c = read_corpus(opt.out);
    EXPECT_THAT(c.vocab, ElementsAre("[PAD]", "a", "b", "c"));
    EXPECT_THAT(c.doc_ids, ElementsAre("1", "2"));
    EXPECT_THAT(c.query_ids, ElementsAre("3"));
    EXPECT_THAT(row_indices(*c.doc_sparse, 0), ElementsAre(1U, 3U));
    EXPECT_THAT(row_values(*c.doc_sparse, 0), ElementsAre(2.0F, 1.0F));
    EXPECT_THAT(row_indices(*c.query_sparse, 0), ElementsAre(2U));
    EXPECT_THAT(row_values(*c.query_sparse, 0), ElementsAre(0.1F));
}

TEST(ImportJsonlTest, DenseRoundTripWithMetric) {
    ScratchDir dir;
    test::write_text(dir.file("docs.jsonl"), R"({"docid": "a", "contents": "x", "vector": [1, -2.5, 3e-1]})"
                                       "\n"
                                       R"({"docid": "b", "vector": [0, 0.5, 1]})"
                                       "\n");
    test::write_text(dir.file("q.jsonl"), R"({"qid": "1048585", "vector": [4, 5, 6]})"
                                    "\n");
    auto opt = options("jsonl", dir.file("docs.jsonl"), dir.file("c.h5"));
    opt.queries = dir.file("q.jsonl");
    opt.metric = Metric::cosine;
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.dense_dim, 3U);
    const auto c = read_corpus(opt.out);
    ASSERT_TRUE(c.doc_dense && c.query_dense);
    EXPECT_EQ(c.doc_dense->metric, Metric::cosine);
    EXPECT_THAT(c.doc_dense->data, ElementsAre(1.0F, -2.5F, 0.3F, 0.0F, 0.5F, 1.0F));
    EXPECT_THAT(c.query_dense->data, ElementsAre(4.0F, 5.0F, 6.0F));
    EXPECT_THAT(c.doc_ids, ElementsAre("a", "b"));
    EXPECT_THAT(c.query_ids, ElementsAre("1048585"));
    EXPECT_FALSE(c.doc_sparse);
}

// ------------------------------------------------------------------------------------------ tsv-tokens

TEST(ImportTsvTokensTest, CountsBecomeWeightsPlainAndGzip) {
    ScratchDir dir;
    write_gz(dir.file("docs.tsv.gz"), "d1\ta a b a\nd2\tc  c b\n");
    test::write_text(dir.file("q.tsv"), "q1\tb zz zz\nq2\t\n");
    auto opt = options("tsv-tokens", dir.file("docs.tsv.gz"), dir.file("c.h5"));
    opt.queries = dir.file("q.tsv");
    opt.weight_scale = 10;
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.docs, 2U);
    EXPECT_EQ(st.queries, 2U);
    EXPECT_EQ(st.unknown_query_tokens, 1U);  // "zz" (one distinct token, counted once)
    const auto c = read_corpus(opt.out);
    EXPECT_THAT(c.vocab, ElementsAre("a", "b", "c"));
    EXPECT_THAT(c.doc_ids, ElementsAre("d1", "d2"));
    EXPECT_THAT(c.query_ids, ElementsAre("q1", "q2"));
    EXPECT_THAT(row_indices(*c.doc_sparse, 0), ElementsAre(0U, 1U));
    EXPECT_THAT(row_values(*c.doc_sparse, 0), ElementsAre(0.3F, 0.1F));
    EXPECT_THAT(row_indices(*c.doc_sparse, 1), ElementsAre(1U, 2U));
    EXPECT_THAT(row_values(*c.doc_sparse, 1), ElementsAre(0.1F, 0.2F));
    EXPECT_THAT(row_indices(*c.query_sparse, 0), ElementsAre(1U));
    EXPECT_TRUE(c.query_sparse->row(1).empty());
}

TEST(ImportTsvTokensTest, DefaultScaleAndHoldout) {
    ScratchDir dir;
    std::string line = "7\t";
    for (int i = 0; i < 2443; ++i) line += "brother ";
    test::write_text(dir.file("t.tsv"), "5\tthe the\n6\tthe\n" + line + "\n");
    auto opt = options("tsv-tokens", dir.file("t.tsv"), dir.file("c.h5"));
    opt.holdout = 2;
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.docs, 1U);
    EXPECT_EQ(st.queries, 2U);
    const auto c = read_corpus(opt.out);
    EXPECT_THAT(c.vocab, ElementsAre("the"));
    EXPECT_THAT(row_values(*c.doc_sparse, 0), ElementsAre(0.002F));
    EXPECT_THAT(c.query_ids, ElementsAre("6", "7"));
    EXPECT_THAT(row_values(*c.query_sparse, 0), ElementsAre(0.001F));
    EXPECT_TRUE(c.query_sparse->row(1).empty());  // "brother" is not a document token
    EXPECT_EQ(st.unknown_query_tokens, 1U);
}

// ------------------------------------------------------------------------------------------ bigann-csr

std::string csr_bytes(std::int64_t ncol, const std::vector<std::vector<std::pair<std::int32_t, float>>>& rows) {
    Bytes b;
    std::int64_t nnz = 0;
    for (const auto& r : rows) nnz += static_cast<std::int64_t>(r.size());
    b.put<std::int64_t>(static_cast<std::int64_t>(rows.size())).put<std::int64_t>(ncol).put<std::int64_t>(nnz);
    std::int64_t off = 0;
    b.put<std::int64_t>(0);
    for (const auto& r : rows) b.put<std::int64_t>(off += static_cast<std::int64_t>(r.size()));
    for (const auto& r : rows)
        for (const auto& e : r) b.put<std::int32_t>(e.first);
    for (const auto& r : rows)
        for (const auto& e : r) b.put<float>(e.second);
    return b.buf;
}

std::string gt_bytes(std::uint32_t n, std::uint32_t d, const std::vector<std::int32_t>& ids,
                     const std::vector<float>& dist) {
    Bytes b;
    b.put(n).put(d).put(ids).put(dist);
    return b.buf;
}

TEST(ImportBigannCsrTest, RoundTripWithQueriesAndGroundTruth) {
    ScratchDir dir;
    test::write_text(dir.file("base.csr"), csr_bytes(10, {{{5, 0.5F}, {1, 1.0F}}, {}, {{9, 2.0F}, {3, 0.0F}}}));
    write_gz(dir.file("q.csr.gz"), csr_bytes(6, {{{0, 1.0F}}, {{3, 0.25F}, {5, 0.5F}}}));
    test::write_text(dir.file("q.gt"), gt_bytes(2, 2, {2, 0, 0, 1}, {2.0F, 0.5F, 0.5F, 0.0F}));
    auto opt = options("bigann-csr", dir.file("base.csr"), dir.file("c.h5"));
    opt.queries = dir.file("q.csr.gz");
    opt.groundtruth = dir.file("q.gt");
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.docs, 3U);
    EXPECT_EQ(st.queries, 2U);
    EXPECT_EQ(st.dim, 10U);
    EXPECT_EQ(st.doc_nnz, 3U);
    EXPECT_EQ(st.dropped_zero_weights, 1U);
    const auto c = read_corpus(opt.out);
    EXPECT_TRUE(c.doc_ids.empty());
    EXPECT_THAT(row_indices(*c.doc_sparse, 0), ElementsAre(1U, 5U));
    EXPECT_THAT(row_values(*c.doc_sparse, 0), ElementsAre(1.0F, 0.5F));
    EXPECT_TRUE(c.doc_sparse->row(1).empty());
    EXPECT_THAT(row_indices(*c.doc_sparse, 2), ElementsAre(9U));
    EXPECT_THAT(row_indices(*c.query_sparse, 1), ElementsAre(3U, 5U));
    EXPECT_THAT(row_values(*c.query_sparse, 1), ElementsAre(0.25F, 0.5F));
    const h5::File f(opt.out, h5::File::Mode::read);
    EXPECT_EQ(f.read_attr_u64("/queries/sparse", "dim"), 10U);
    const auto gt = read_groundtruth(f, "sparse");
    ASSERT_TRUE(gt);
    EXPECT_EQ(gt->k, 2U);
    EXPECT_THAT(gt->neighbors, ElementsAre(2, 0, 0, 1));
    EXPECT_THAT(gt->distances, ElementsAre(2.0F, 0.5F, 0.5F, 0.0F));
}

// ------------------------------------------------------------------------------------------ seismic-bin

std::string seismic_bytes(const std::vector<std::vector<std::pair<std::uint32_t, float>>>& vecs) {
    Bytes b;
    b.put<std::uint32_t>(static_cast<std::uint32_t>(vecs.size()));
    for (const auto& v : vecs) {
        b.put<std::uint32_t>(static_cast<std::uint32_t>(v.size()));
        for (const auto& e : v) b.put(e.first);
        for (const auto& e : v) b.put(e.second);
    }
    return b.buf;
}

TEST(ImportSeismicBinTest, RoundTripDimCoversQueries) {
    ScratchDir dir;
    test::write_text(dir.file("documents.bin"), seismic_bytes({{{0, 1.0F}, {7, 0.5F}}, {}, {{3, 2.0F}}}));
    test::write_text(dir.file("queries.bin"), seismic_bytes({{{12, 1.5F}, {3, 0.25F}}}));
    auto opt = options("seismic-bin", dir.file("documents.bin"), dir.file("c.h5"));
    opt.queries = dir.file("queries.bin");
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.dim, 13U);
    const auto c = read_corpus(opt.out);
    EXPECT_EQ(c.doc_sparse->dim, 13U);
    EXPECT_THAT(row_indices(*c.doc_sparse, 0), ElementsAre(0U, 7U));
    EXPECT_THAT(row_values(*c.doc_sparse, 0), ElementsAre(1.0F, 0.5F));
    EXPECT_TRUE(c.doc_sparse->row(1).empty());
    EXPECT_THAT(row_values(*c.doc_sparse, 2), ElementsAre(2.0F));
    EXPECT_THAT(row_indices(*c.query_sparse, 0), ElementsAre(3U, 12U));
    EXPECT_THAT(row_values(*c.query_sparse, 0), ElementsAre(0.25F, 1.5F));
    EXPECT_TRUE(c.query_ids.empty());
}

TEST(ImportSeismicBinTest, HoldoutKeepsRecordNumbersAsQueryIds) {
    ScratchDir dir;
    write_gz(dir.file("documents.bin.gz"), seismic_bytes({{{1, 1.0F}}, {{2, 1.0F}}, {{3, 1.0F}}, {{4, 1.0F}}}));
    auto opt = options("seismic-bin", dir.file("documents.bin.gz"), dir.file("c.h5"));
    opt.holdout = 2;
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.docs, 2U);
    EXPECT_EQ(st.queries, 2U);
    const auto c = read_corpus(opt.out);
    EXPECT_TRUE(c.doc_ids.empty());
    EXPECT_THAT(c.query_ids, ElementsAre("2", "3"));
    EXPECT_THAT(row_indices(*c.query_sparse, 1), ElementsAre(4U));
    EXPECT_EQ(c.doc_sparse->dim, 5U);
}

// ------------------------------------------------------------------------------------------ ann-benchmarks

void write_ann(const std::string& path, const std::string& distance, const std::vector<float>& dist) {
    h5::File f(path, h5::File::Mode::truncate);
    const std::vector<float> train{1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0};
    const std::vector<float> test{1, 0.5F, 0, 0, 0, 2};
    const std::vector<std::int32_t> nb{0, 3, 2, 1};
    f.write<float>("/train", train, {4, 3});
    f.write<float>("/test", test, {2, 3});
    f.write<std::int32_t>("/neighbors", nb, {2, 2});
    f.write<float>("/distances", dist, {2, 2});
    f.write_attr("/", "distance", distance);
}

TEST(ImportAnnBenchmarksTest, AngularBecomesCosineSimilarity) {
    ScratchDir dir;
    write_ann(dir.file("ann.hdf5"), "angular", {0.1F, 0.25F, 0.0F, 1.0F});
    const auto st = import_corpus(options("ann-benchmarks", dir.file("ann.hdf5"), dir.file("c.h5")));
    EXPECT_EQ(st.docs, 4U);
    EXPECT_EQ(st.queries, 2U);
    EXPECT_EQ(st.dense_dim, 3U);
    const auto c = read_corpus(dir.file("c.h5"));
    EXPECT_EQ(c.doc_dense->metric, Metric::cosine);
    EXPECT_THAT(c.doc_dense->data, ElementsAre(1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0));
    EXPECT_THAT(c.query_dense->data, ElementsAre(1, 0.5F, 0, 0, 0, 2));
    const h5::File f(dir.file("c.h5"), h5::File::Mode::read);
    const auto gt = read_groundtruth(f, "dense");
    ASSERT_TRUE(gt);
    EXPECT_THAT(gt->neighbors, ElementsAre(0, 3, 2, 1));
    EXPECT_THAT(gt->distances, Pointwise(FloatEq(), std::vector<float>{0.9F, 0.75F, 1.0F, 0.0F}));
}

TEST(ImportAnnBenchmarksTest, EuclideanKeptAndNegatedInnerProductDetected) {
    ScratchDir dir;
    write_ann(dir.file("l2.hdf5"), "euclidean", {0.5F, 1.0F, 0.0F, 2.0F});
    (void)import_corpus(options("ann-benchmarks", dir.file("l2.hdf5"), dir.file("l2.h5")));
    const h5::File f(dir.file("l2.h5"), h5::File::Mode::read);
    EXPECT_EQ(read_dense_rows(f, Side::docs, 0, 1).metric, Metric::l2);
    EXPECT_THAT(read_groundtruth(f, "dense")->distances, ElementsAre(0.5F, 1.0F, 0.0F, 2.0F));

    write_ann(dir.file("ip.hdf5"), "dot", {-3.0F, -1.0F, -2.0F, -0.5F});
    (void)import_corpus(options("ann-benchmarks", dir.file("ip.hdf5"), dir.file("ip.h5")));
    const h5::File g(dir.file("ip.h5"), h5::File::Mode::read);
    EXPECT_THAT(read_groundtruth(g, "dense")->distances, ElementsAre(3.0F, 1.0F, 2.0F, 0.5F));
}

// ------------------------------------------------------------------------------------------ tsv-dense

TEST(ImportTsvDenseTest, IdLayoutAndNgtLayout) {
    ScratchDir dir;
    test::write_text(dir.file("docs.tsv"), "a\t1 2.5 -3\nb\t0 0 1e-3\n");
    test::write_text(dir.file("q.tsv"), "q\t1 1 1\n");
    auto opt = options("tsv-dense", dir.file("docs.tsv"), dir.file("c.h5"));
    opt.queries = dir.file("q.tsv");
    opt.metric = Metric::l2;
    (void)import_corpus(opt);
    const auto c = read_corpus(opt.out);
    EXPECT_THAT(c.doc_ids, ElementsAre("a", "b"));
    EXPECT_THAT(c.query_ids, ElementsAre("q"));
    EXPECT_THAT(c.doc_dense->data, ElementsAre(1.0F, 2.5F, -3.0F, 0.0F, 0.0F, 0.001F));
    EXPECT_EQ(c.doc_dense->metric, Metric::l2);

    test::write_text(dir.file("ngt.tsv"), "0\t1\t2\t\n3\t4\t5\t\n6\t7\t8\t\n");
    auto ngt = options("tsv-dense", dir.file("ngt.tsv"), dir.file("n.h5"));
    ngt.holdout = 1;
    const auto st = import_corpus(ngt);
    EXPECT_EQ(st.dense_dim, 3U);
    const auto n = read_corpus(ngt.out);
    EXPECT_TRUE(n.doc_ids.empty());
    EXPECT_THAT(n.doc_dense->data, ElementsAre(0, 1, 2, 3, 4, 5));
    EXPECT_THAT(n.query_dense->data, ElementsAre(6, 7, 8));
    EXPECT_THAT(n.query_ids, ElementsAre("2"));

    // NGT data rows end with an object id that query rows lack.
    test::write_text(dir.file("ngt-data.tsv"), "0\t1\t2\t100001\n3\t4\t5\t100002\n");
    test::write_text(dir.file("ngt-q.tsv"), "1\t1\t1\n");
    auto ids = options("tsv-dense", dir.file("ngt-data.tsv"), dir.file("i.h5"));
    ids.queries = dir.file("ngt-q.tsv");
    EXPECT_EQ(import_corpus(ids).dense_dim, 3U);
    const auto i = read_corpus(ids.out);
    EXPECT_THAT(i.doc_ids, ElementsAre("100001", "100002"));
    EXPECT_THAT(i.doc_dense->data, ElementsAre(0, 1, 2, 3, 4, 5));
    EXPECT_THAT(i.query_dense->data, ElementsAre(1, 1, 1));
}

// ------------------------------------------------------------------------------------------ fvecs

std::string fvecs_bytes(const std::vector<std::vector<float>>& rows) {
    Bytes b;
    for (const auto& r : rows) b.put<std::int32_t>(static_cast<std::int32_t>(r.size())).put(r);
    return b.buf;
}

TEST(ImportFvecsTest, RoundTripWithIvecsGroundTruth) {
    ScratchDir dir;
    test::write_text(dir.file("base.fvecs"), fvecs_bytes({{0, 0}, {3, 4}, {1, 0}}));
    test::write_text(dir.file("q.fvecs"), fvecs_bytes({{0, 0}, {1, 1}}));
    Bytes gt;
    gt.put<std::int32_t>(2).put<std::int32_t>(0).put<std::int32_t>(2);
    gt.put<std::int32_t>(2).put<std::int32_t>(2).put<std::int32_t>(1);
    test::write_text(dir.file("gt.ivecs"), gt.buf);
    auto opt = options("fvecs", dir.file("base.fvecs"), dir.file("c.h5"));
    opt.queries = dir.file("q.fvecs");
    opt.groundtruth = dir.file("gt.ivecs");
    opt.metric = Metric::l2;
    opt.batch_rows = 1;
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.docs, 3U);
    EXPECT_EQ(st.queries, 2U);
    const auto c = read_corpus(opt.out);
    EXPECT_THAT(c.doc_dense->data, ElementsAre(0, 0, 3, 4, 1, 0));
    EXPECT_THAT(c.query_dense->data, ElementsAre(0, 0, 1, 1));
    const h5::File f(opt.out, h5::File::Mode::read);
    const auto g = read_groundtruth(f, "dense");
    ASSERT_TRUE(g);
    EXPECT_THAT(g->neighbors, ElementsAre(0, 2, 2, 1));
    EXPECT_THAT(g->distances, Pointwise(FloatEq(), std::vector<float>{0.0F, 1.0F, 1.0F, std::sqrt(13.0F)}));
}

// ------------------------------------------------------------------------------------------ append

TEST(ImportAppendTest, DenseJoinsSparseByIdInCorpusOrder) {
    ScratchDir dir;
    test::write_text(dir.file("docs.jsonl"), R"({"id": "x", "vector": {"a": 1}})"
                                       "\n"
                                       R"({"id": "y", "vector": {"b": 2}})"
                                       "\n"
                                       R"({"id": "z", "vector": {"a": 3}})"
                                       "\n");
    test::write_text(dir.file("q.jsonl"), R"({"qid": "q1", "vector": {"b": 1}})"
                                    "\n"
                                    R"({"qid": "q2", "vector": {"a": 1}})"
                                    "\n");
    auto opt = options("jsonl", dir.file("docs.jsonl"), dir.file("c.h5"));
    opt.queries = dir.file("q.jsonl");
    (void)import_corpus(opt);

    // Dense vectors for the same ids in another order.
    test::write_text(dir.file("dense.tsv"), "z\t3 3\nx\t1 1\ny\t2 2\n");
    test::write_text(dir.file("dq.tsv"), "q2\t0 2\nq1\t0 1\n");
    auto app = options("tsv-dense", dir.file("dense.tsv"), opt.out);
    app.queries = dir.file("dq.tsv");
    app.append = true;
    app.batch_rows = 2;
    (void)import_corpus(app);
    const auto c = read_corpus(opt.out);
    EXPECT_THAT(c.doc_ids, ElementsAre("x", "y", "z"));
    EXPECT_THAT(c.query_ids, ElementsAre("q1", "q2"));
    ASSERT_TRUE(c.doc_sparse && c.doc_dense && c.query_sparse && c.query_dense);
    EXPECT_THAT(c.doc_dense->data, ElementsAre(1, 1, 2, 2, 3, 3));
    EXPECT_THAT(c.query_dense->data, ElementsAre(0, 1, 0, 2));
    EXPECT_THAT(row_values(*c.doc_sparse, 2), ElementsAre(3.0F));
    EXPECT_THAT(c.vocab, ElementsAre("a", "b"));

    // Appending again is refused; the corpus stays as it is.
    const auto again = [&] {
        try {
            (void)import_corpus(app);
        } catch (const UsageError& e) {
            return std::string(e.what());
        }
        return std::string();
    }();
    EXPECT_THAT(again, HasSubstr("/docs/dense"));
    EXPECT_FALSE(fs::exists(opt.out + ".tmp"));
    EXPECT_TRUE(read_corpus(opt.out).doc_dense);
}

TEST(ImportAppendTest, SparseQueriesUseTheCorpusVocabulary) {
    ScratchDir dir;
    test::write_text(dir.file("docs.tsv"), "d0\tb b a\nd1\tc\n");
    (void)import_corpus(options("tsv-tokens", dir.file("docs.tsv"), dir.file("c.h5")));
    test::write_text(dir.file("q.tsv"), "q0\ta zz c c\n");
    auto app = options("tsv-tokens", "", dir.file("c.h5"));
    app.queries = dir.file("q.tsv");
    app.append = true;
    const auto st = import_corpus(app);
    EXPECT_EQ(st.unknown_query_tokens, 1U);
    const auto c = read_corpus(dir.file("c.h5"));
    EXPECT_THAT(c.vocab, ElementsAre("b", "a", "c"));
    EXPECT_THAT(row_indices(*c.query_sparse, 0), ElementsAre(1U, 2U));
    EXPECT_THAT(row_values(*c.query_sparse, 0), ElementsAre(0.001F, 0.002F));
}

TEST(ImportAppendTest, GroundTruthFollowsTheReordering) {
    ScratchDir dir;
    test::write_text(dir.file("docs.jsonl"), R"({"id": 2, "vector": {"a": 1}})"
                                       "\n"
                                       R"({"id": 0, "vector": {"b": 1}})"
                                       "\n"
                                       R"({"id": 1, "vector": {"a": 2}})"
                                       "\n");
    test::write_text(dir.file("q.jsonl"), R"({"qid": 1, "vector": {"a": 1}})"
                                    "\n"
                                    R"({"qid": 0, "vector": {"b": 1}})"
                                    "\n");
    auto opt = options("jsonl", dir.file("docs.jsonl"), dir.file("c.h5"));
    opt.queries = dir.file("q.jsonl");
    (void)import_corpus(opt);

    test::write_text(dir.file("base.fvecs"), fvecs_bytes({{0, 0}, {3, 4}, {1, 0}}));
    test::write_text(dir.file("q.fvecs"), fvecs_bytes({{0, 0}, {1, 1}}));
    Bytes gt;
    gt.put<std::int32_t>(2).put<std::int32_t>(0).put<std::int32_t>(2);
    gt.put<std::int32_t>(2).put<std::int32_t>(2).put<std::int32_t>(1);
    test::write_text(dir.file("gt.ivecs"), gt.buf);
    auto app = options("fvecs", dir.file("base.fvecs"), opt.out);
    app.queries = dir.file("q.fvecs");
    app.groundtruth = dir.file("gt.ivecs");
    app.metric = Metric::l2;
    app.append = true;
    (void)import_corpus(app);

    const auto c = read_corpus(opt.out);
    EXPECT_THAT(c.doc_ids, ElementsAre("2", "0", "1"));
    EXPECT_THAT(c.doc_dense->data, ElementsAre(1, 0, 0, 0, 3, 4));
    EXPECT_THAT(c.query_dense->data, ElementsAre(1, 1, 0, 0));
    const h5::File f(opt.out, h5::File::Mode::read);
    const auto g = read_groundtruth(f, "dense");
    ASSERT_TRUE(g);
    EXPECT_THAT(g->neighbors, ElementsAre(0, 2, 1, 0));
    EXPECT_THAT(g->distances, Pointwise(FloatEq(), std::vector<float>{1.0F, std::sqrt(13.0F), 0.0F, 1.0F}));

    // A jsonl import reveals its kind only while reading: sparse docs again are refused at the merge.
    auto again = options("jsonl", dir.file("docs.jsonl"), opt.out);
    again.append = true;
    EXPECT_THROW((void)import_corpus(again), UsageError);
    EXPECT_FALSE(fs::exists(opt.out + ".tmp"));
    EXPECT_FALSE(fs::exists(opt.out + ".staging.tmp"));
    EXPECT_TRUE(read_corpus(opt.out).doc_dense);
}

TEST(ImportAppendTest, MismatchedIdsAreRejected) {
    ScratchDir dir;
    test::write_text(dir.file("docs.tsv"), "a\t1 2\nb\t3 4\n");
    auto opt = options("tsv-dense", dir.file("docs.tsv"), dir.file("c.h5"));
    (void)import_corpus(opt);
    const auto before = fs::file_size(opt.out);

    test::write_text(dir.file("s.jsonl"), R"({"id": "a", "vector": {"t": 1}})"
                                    "\n"
                                    R"({"id": "c", "vector": {"t": 2}})"
                                    "\n");
    auto app = options("jsonl", dir.file("s.jsonl"), opt.out);
    app.append = true;
    auto msg = import_error(app);
    EXPECT_THAT(msg, HasSubstr(opt.out));
    EXPECT_THAT(msg, HasSubstr("row 1"));
    EXPECT_THAT(msg, HasSubstr("'b'"));

    test::write_text(dir.file("s3.jsonl"), R"({"id": "a", "vector": {"t": 1}})"
                                     "\n");
    app.docs = dir.file("s3.jsonl");
    msg = import_error(app);
    EXPECT_THAT(msg, HasSubstr("s3.jsonl"));
    EXPECT_THAT(msg, HasSubstr("1 docs imported but"));
    EXPECT_EQ(fs::file_size(opt.out), before);
    EXPECT_FALSE(read_corpus(opt.out).doc_sparse);

    auto missing = options("jsonl", dir.file("s.jsonl"), dir.file("nope.h5"));
    missing.append = true;
    EXPECT_THAT(import_error(missing), HasSubstr("nope.h5"));
}

// ------------------------------------------------------------------------------------------ bad inputs

struct ImportBadCase {
    std::string name;
    std::string format;
    std::string content;
    std::vector<std::string> expect;  ///< substrings of the message besides the file name
    std::function<void(ImportOptions&, const ScratchDir&)> tweak = {};
};

void run_bad_cases(const std::vector<ImportBadCase>& cases) {
    for (const auto& bc : cases) {
        SCOPED_TRACE(bc.name);
        ScratchDir dir;
        const auto input = dir.file("in-" + bc.name);
        test::write_text(input, bc.content);
        auto opt = options(bc.format, input, dir.file("out.h5"));
        if (bc.tweak) bc.tweak(opt, dir);
        const auto msg = import_error(opt);
        EXPECT_THAT(msg, HasSubstr("in-" + bc.name));
        for (const auto& s : bc.expect) EXPECT_THAT(msg, HasSubstr(s));
    }
}

TEST(ImportBadInputTest, Jsonl) {
    const auto vocab = [](ImportOptions& o, const ScratchDir& d) {
        test::write_text(d.file("vocab.txt"), "a\nb\n");
        o.vocab = d.file("vocab.txt");
    };
    const std::string ok = R"({"id": 1, "vector": {"a": 1}})"
                           "\n";
    run_bad_cases({
        {"malformed.jsonl", "jsonl", ok + R"({"id": 2, "vector": {"a": 1})" "\n", {"line 2", "malformed JSON"}},
        {"negative.jsonl", "jsonl", ok + ok + R"({"id": 3, "vector": {"a": -0.5}})", {"line 3", "negative weight", "'a'"}},
        {"string-weight.jsonl", "jsonl", R"({"id": 3, "vector": {"a": "x"}})", {"line 1", "non-numeric weight", "'a'"}},
        {"duplicate.jsonl", "jsonl", ok + R"({"id": 2, "vector": {"b": 1, "a": 2, "b": 3}})", {"line 2", "duplicate token 'b'"}},
        {"overflow.jsonl", "jsonl", R"({"id": 2, "vector": {"a": 1e999}})", {"line 1"}},
        {"no-vector.jsonl", "jsonl", ok + R"({"id": 2, "contents": "x"})", {"line 2", "missing \"vector\""}},
        {"no-id.jsonl", "jsonl", R"({"vector": {"a": 1}})", {"line 1", "missing id"}},
        {"float-id.jsonl", "jsonl", R"({"id": 1.5, "vector": {"a": 1}})", {"line 1", "\"id\""}},
        {"array.jsonl", "jsonl", "[1, 2]\n", {"line 1", "JSON object"}},
        {"mixed.jsonl", "jsonl", ok + R"({"id": 2, "vector": [1, 2]})", {"line 2", "dense vector"}},
        {"dense-dim.jsonl", "jsonl", R"({"id": 1, "vector": [1, 2]})" "\n" R"({"id": 2, "vector": [1, 2, 3]})",
         {"line 2", "dimension 3"}},
        {"unknown.jsonl", "jsonl", ok + R"({"id": 2, "vector": {"a": 1, "zebra": 2}})", {"line 2", "unknown token 'zebra'"},
         vocab},
        {"empty.jsonl", "jsonl", "\n\n", {"empty file"}},
    });
}

TEST(ImportBadInputTest, TsvTokensAndTsvDense) {
    run_bad_cases({
        {"notab.tsv", "tsv-tokens", "1\ta b\n2 a b\n", {"line 2", "no tab"}},
        {"noid.tsv", "tsv-tokens", "\ta b\n", {"line 1", "empty id"}},
        {"unknown.tsv", "tsv-tokens", "1\ta b\n2\tzz\n", {"line 2", "unknown token 'zz'"},
         [](ImportOptions& o, const ScratchDir& d) {
             test::write_text(d.file("v.txt"), "a\nb\n");
             o.vocab = d.file("v.txt");
         }},
        {"empty.tsv", "tsv-tokens", "", {"empty file"}},
        {"dim.tsv", "tsv-dense", "a\t1 2 3\nb\t1 2\n", {"line 2", "dimension 2"}},
        {"nan.tsv", "tsv-dense", "a\t1 2 3\nb\t1 nan 2\n", {"line 2", "non-finite"}},
        {"word.tsv", "tsv-dense", "a\t1 2 3\nb\t1 x 2\n", {"line 2", "'x' is not a number"}},
        {"ngt-dim.tsv", "tsv-dense", "1\t2\t3\t\n1\t2\t\n", {"line 2", "dimension 2"}},
        {"empty-dense.tsv", "tsv-dense", "\n", {"empty file"}},
    });
}

TEST(ImportBadInputTest, BinaryFormats) {
    const auto good_csr = csr_bytes(4, {{{1, 1.0F}}, {{2, 0.5F}, {3, 0.5F}}});
    Bytes bad_ptr;
    bad_ptr.put<std::int64_t>(2).put<std::int64_t>(4).put<std::int64_t>(2);
    bad_ptr.put<std::int64_t>(0).put<std::int64_t>(2).put<std::int64_t>(1);  // not monotone
    bad_ptr.put<std::int32_t>(0).put<std::int32_t>(1).put<float>(1).put<float>(1);
    const auto gt_q = [](ImportOptions& o, const ScratchDir& d) {
        test::write_text(d.file("q.csr"), csr_bytes(4, {{{1, 1.0F}}}));
        o.queries = d.file("q.csr");
    };
    const auto seismic_good = seismic_bytes({{{1, 1.0F}, {2, 2.0F}}, {{5, 1.0F}}});
    run_bad_cases({
        {"trunc.csr", "bigann-csr", good_csr.substr(0, good_csr.size() - 3), {"truncated"}},
        {"header.csr", "bigann-csr", good_csr.substr(0, 10), {"truncated", "header"}},
        {"trailing.csr", "bigann-csr", good_csr + "xyz", {"trailing"}},
        {"index.csr", "bigann-csr", csr_bytes(4, {{{1, 1.0F}}, {{2, 0.5F}, {4, 0.5F}}}), {"row 1", "index 4", "ncol=4"}},
        {"negative.csr", "bigann-csr", csr_bytes(4, {{{1, 1.0F}}, {{2, -0.5F}}}), {"row 1", "negative weight"}},
        {"nan.csr", "bigann-csr", csr_bytes(4, {{{1, std::numeric_limits<float>::quiet_NaN()}}}), {"row 0", "non-finite"}},
        {"dup.csr", "bigann-csr", csr_bytes(4, {{{1, 1.0F}, {1, 2.0F}}}), {"row 0", "duplicate component 1"}},
        {"indptr.csr", "bigann-csr", bad_ptr.buf, {"row 1", "not monotone"}},
        {"ncol.csr", "bigann-csr", csr_bytes(3, {{{1, 1.0F}}}), {"ncol 4 exceeds"},
         [](ImportOptions& o, const ScratchDir& d) {
             // The queries file is the bad one here: swap roles so its name is the one reported.
             test::write_text(d.file("base.csr"), csr_bytes(3, {{{1, 1.0F}}}));
             test::write_text(o.docs, csr_bytes(4, {{{1, 1.0F}}}));
             o.queries = o.docs;
             o.docs = d.file("base.csr");
         }},
        {"gt-size.gt", "bigann-csr", good_csr, {"needs"},
         [&](ImportOptions& o, const ScratchDir& d) {
             gt_q(o, d);
             test::write_text(d.file("bad.gt"), gt_bytes(1, 2, {0, 1}, {1.0F}));
             // Report on the ground-truth file: rename the input so its name also appears in the message.
             fs::rename(o.docs, d.file("base.csr"));
             o.docs = d.file("base.csr");
             fs::rename(d.file("bad.gt"), d.file("in-gt-size.gt"));
             o.groundtruth = d.file("in-gt-size.gt");
         }},
        {"gt-range.gt", "bigann-csr", good_csr, {"row 0", "neighbor 7 out of range"},
         [&](ImportOptions& o, const ScratchDir& d) {
             gt_q(o, d);
             fs::rename(o.docs, d.file("base.csr"));
             o.docs = d.file("base.csr");
             test::write_text(d.file("in-gt-range.gt"), gt_bytes(1, 2, {0, 7}, {1.0F, 0.5F}));
             o.groundtruth = d.file("in-gt-range.gt");
         }},
        {"empty.csr", "bigann-csr", "", {"truncated"}},
        {"trunc.bin", "seismic-bin", seismic_good.substr(0, seismic_good.size() - 2), {"vector 1", "truncated"}},
        {"len.bin", "seismic-bin", Bytes{}.put<std::uint32_t>(1).put<std::uint32_t>(1000).put<std::uint32_t>(1).buf,
         {"vector 0", "truncated"}},
        {"count.bin", "seismic-bin", Bytes{}.put<std::uint32_t>(50).put<std::uint32_t>(0).buf, {"50 vectors"}},
        {"neg.bin", "seismic-bin", seismic_bytes({{{1, 1.0F}}, {{2, -1.0F}}}), {"vector 1", "negative weight"}},
        {"dup.bin", "seismic-bin", seismic_bytes({{{1, 1.0F}, {1, 2.0F}}}), {"vector 0", "duplicate component 1"}},
        {"trail.bin", "seismic-bin", seismic_good + "x", {"trailing"}},
        {"empty.bin", "seismic-bin", "", {"truncated"}},
        {"trunc.fvecs", "fvecs", fvecs_bytes({{1, 2}, {3, 4}}).substr(0, 15), {"vector 1", "truncated"}},
        {"dim.fvecs", "fvecs", fvecs_bytes({{1, 2}, {3, 4, 5}}), {"vector 1", "dimension 3"}},
        {"nan.fvecs", "fvecs", fvecs_bytes({{1, 2}, {std::numeric_limits<float>::infinity(), 4}}), {"vector 1", "non-finite"}},
        {"baddim.fvecs", "fvecs", Bytes{}.put<std::int32_t>(-3).buf, {"vector 0", "bad dimension"}},
        {"empty.fvecs", "fvecs", "", {"empty file"}},
        {"notann.hdf5", "ann-benchmarks", "not an HDF5 file", {"cannot open"}},
    });
}

TEST(ImportBadInputTest, MissingFilesAndBadOptions) {
    ScratchDir dir;
    for (const auto& f : import_formats()) {
        SCOPED_TRACE(f);
        const auto msg = import_error(options(f, dir.file("missing-input"), dir.file("out.h5")));
        EXPECT_THAT(msg, HasSubstr("missing-input"));
    }
    const auto usage = [&](ImportOptions o) {
        try {
            (void)import_corpus(o);
        } catch (const UsageError& e) {
            return std::string(e.what());
        }
        ADD_FAILURE() << "expected UsageError";
        return std::string();
    };
    EXPECT_THAT(usage(options("xml", "a", dir.file("o.h5"))), HasSubstr("unknown --format 'xml'"));
    auto both = options("jsonl", "a", dir.file("o.h5"));
    both.queries = "b";
    both.holdout = 3;
    EXPECT_THAT(usage(both), HasSubstr("--holdout"));
    auto vocab = options("fvecs", "a", dir.file("o.h5"));
    vocab.vocab = "v.json";
    EXPECT_THAT(usage(vocab), HasSubstr("--vocab"));
    auto self = options("tsv-dense", dir.file("o.h5"), dir.file("o.h5"));
    EXPECT_THAT(usage(self), HasSubstr("also an input"));
    test::write_text(dir.file("three.tsv"), "a\t1\nb\t2\n");
    auto holdout = options("tsv-dense", dir.file("three.tsv"), dir.file("o.h5"));
    holdout.holdout = 2;
    EXPECT_THAT(import_error(holdout), HasSubstr("--holdout 2"));
}

// ------------------------------------------------------------------------------------------ real data

TEST(ImportRealDataTest, SeismicToySplade) {
    const auto docs = test::shared_data("seismic_toy_splade/documents.jsonl");
    AFTERSHOCK_REQUIRE_SHARED(docs);
    ScratchDir dir;
    auto opt = options("jsonl", docs, dir.file("toy.h5"));
    opt.queries = test::shared_data("seismic_toy_splade/queries.jsonl");
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.docs, 20U);
    EXPECT_EQ(st.queries, 5U);
    EXPECT_EQ(st.dim, 1396U);
    EXPECT_GT(st.unknown_query_tokens, 0U);
    const auto c = read_corpus(opt.out);
    EXPECT_EQ(c.vocab.size(), 1396U);
    EXPECT_TRUE(c.doc_sparse->row(18).empty());
    EXPECT_EQ(c.doc_ids[18], "18");
    EXPECT_THAT(c.query_ids, ElementsAre("1048585", "2", "524332", "1048642", "524447"));
    for (std::size_t r = 0; r < 20; ++r) {
        if (r != 18) {
            EXPECT_FALSE(c.doc_sparse->row(r).empty()) << r;
        }
    }
    EXPECT_NEAR(static_cast<double>(st.doc_nnz) / 20.0, 145.0, 1.0);
}

TEST(ImportRealDataTest, SpladeDevQueriesWithBertVocabAndHoldout) {
    const auto tsv = test::shared_data("anserini_splade_queries_dev/topics.msmarco-passage.dev-subset.splade-pp-ed.tsv.gz");
    const auto vocab = test::shared_data("bert_vocab_npm/vocab.json");
    AFTERSHOCK_REQUIRE_SHARED(tsv);
    AFTERSHOCK_REQUIRE_SHARED(vocab);
    ScratchDir dir;
    auto opt = options("tsv-tokens", tsv, dir.file("splade.h5"));
    opt.vocab = vocab;
    opt.holdout = 1000;
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.docs, 5980U);
    EXPECT_EQ(st.queries, 1000U);
    EXPECT_EQ(st.dim, 30522U);
    EXPECT_EQ(st.unknown_query_tokens, 0U);
    const h5::File f(opt.out, h5::File::Mode::read);
    const auto info = describe_corpus(f);
    EXPECT_EQ(info.dim, 30522U);
    const auto ids = read_ids(f, Side::docs);
    ASSERT_EQ(ids.size(), 5980U);
    EXPECT_EQ(ids[0], "1048585");
    const auto first = read_sparse_rows(f, Side::docs, 0, 1);
    const auto row = first.row(0);
    const auto it = std::find(row.indices.begin(), row.indices.end(), 2567U);  // "brother"
    ASSERT_NE(it, row.indices.end());
    EXPECT_FLOAT_EQ(row.values[static_cast<std::size_t>(it - row.indices.begin())], 2.443F);
    EXPECT_NEAR(static_cast<double>(st.doc_nnz + st.query_nnz) / 6980.0, 43.9, 0.1);
    EXPECT_EQ(f.read_strings("/vocab", 2567, 2568).at(0), "brother");
}

TEST(ImportRealDataTest, AnseriniDenseJsonl) {
    const auto docs = test::shared_data("anserini_dense_samples/cosdpr-distil.sample100.jsonl");
    AFTERSHOCK_REQUIRE_SHARED(docs);
    ScratchDir dir;
    auto opt = options("jsonl", docs, dir.file("dense.h5"));
    opt.queries = test::shared_data("anserini_dense_samples/cosdpr-distil.topics.jsonl");
    opt.metric = Metric::ip;
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.docs, 100U);
    EXPECT_EQ(st.queries, 2U);
    EXPECT_EQ(st.dense_dim, 768U);
    const auto c = read_corpus(opt.out);
    EXPECT_EQ(c.doc_ids[0], "0");
    EXPECT_EQ(c.query_ids[0], "1048585");
    EXPECT_FLOAT_EQ(c.doc_dense->data[0], -0.00862905103713274F);
    double norm = 0;
    for (const auto x : c.doc_dense->row(0)) norm += double(x) * x;
    EXPECT_NEAR(norm, 1.0, 1e-3);  // cosDPR vectors are unit length
}

TEST(ImportRealDataTest, NgtSift5kTsv) {
    const auto docs = test::shared_data("ngt_sift5k/sift-dataset-5k.tsv");
    AFTERSHOCK_REQUIRE_SHARED(docs);
    ScratchDir dir;
    auto opt = options("tsv-dense", docs, dir.file("sift.h5"));
    opt.queries = test::shared_data("ngt_sift5k/sift-query-3.tsv");
    opt.metric = Metric::l2;
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.docs, 5000U);
    EXPECT_EQ(st.queries, 3U);
    EXPECT_EQ(st.dense_dim, 128U);
    const h5::File f(opt.out, h5::File::Mode::read);
    const auto first = read_dense_rows(f, Side::docs, 0, 1);
    EXPECT_THAT(std::vector<float>(first.data.begin(), first.data.begin() + 10),
                ElementsAre(0, 0, 0, 0, 0, 0, 0, 0, 13, 10));
    const auto q = read_dense_rows(f, Side::queries, 0, 1);
    EXPECT_EQ(q.data[0], 17.0F);
    const auto ids = read_ids(f, Side::docs);  // NGT's trailing object ids
    ASSERT_EQ(ids.size(), 5000U);
    EXPECT_EQ(ids.front(), "100001");
    EXPECT_EQ(ids.back(), "105000");
    EXPECT_TRUE(read_ids(f, Side::queries).empty());
}

}  // namespace
}  // namespace aftershock
