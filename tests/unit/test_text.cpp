// Text retrieval: the WordPiece tokenizer (known bert-base-uncased tokenizations), BM25 weights against a hand
// computation, the tar reader, the collection parsers, the text importer's errors, the QueryEncoder, and CACM
// effectiveness above a measured floor.
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/eval.hpp"
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/import/importers.hpp"
#include "aftershock/common/import/tar_reader.hpp"
#include "aftershock/common/import/text_collections.hpp"
#include "aftershock/common/text/bm25.hpp"
#include "aftershock/common/text/query_encoder.hpp"
#include "aftershock/common/text/unicode.hpp"
#include "aftershock/common/text/wordpiece.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace aftershock {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kVocab = test::shared_data("bert_vocab_npm/vocab.json");

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

// ------------------------------------------------------------------------------------------- tokenizer

TEST(WordPieceTest, KnownBertBaseUncasedTokenizations) {
    AFTERSHOCK_REQUIRE_SHARED(kVocab);
    const auto tok = text::WordPieceTokenizer::load(kVocab);
    // BERT's README illustrates "un ##aff ##able", but bert-base-uncased has no "##aff": Hugging Face's
    // BertTokenizer gives these three pieces (GreedyLongestMatchOnASmallVocabulary checks the README's split).
    EXPECT_THAT(tok.tokenize("unaffable"), ElementsAre("una", "##ffa", "##ble"));
    EXPECT_THAT(tok.tokenize("Hello, World!"), ElementsAre("hello", ",", "world", "!"));
    EXPECT_EQ(tok.encode("the")[0], 1996U);  // ids are BERT's (DATA.md)
    // Accents go: the pieces spell the accent-free words, with no [UNK].
    EXPECT_THAT(tok.basic_tokenize("Crème BRÛLÉE"), ElementsAre("creme", "brulee"));
    std::string spelled;
    for (const auto& p : tok.tokenize("Crème brûlée")) {
        EXPECT_NE(p, "[UNK]");
        spelled += p.starts_with("##") ? p.substr(2) : " " + p;
    }
    EXPECT_EQ(spelled, " creme brulee");
    // Every CJK ideograph is a word of its own, even without spaces.
    EXPECT_THAT(tok.basic_tokenize("ab我爱北京cd"), ElementsAre("ab", "我", "爱", "北", "京", "cd"));
    EXPECT_EQ(tok.tokenize("我爱北京").size(), 4U);
    // Words over 100 characters are [UNK]; 100 are still split.
    EXPECT_THAT(tok.tokenize(std::string(101, 'a')), ElementsAre("[UNK]"));
    EXPECT_NE(tok.tokenize(std::string(100, 'a')).front(), "[UNK]");
    // Control characters are dropped, any whitespace separates.
    EXPECT_EQ(tok.tokenize("hello\x01world\u00A0again"), tok.tokenize("helloworld again"));
}

TEST(WordPieceTest, InvalidUtf8IsReplacedAndDropped) {
    AFTERSHOCK_REQUIRE_SHARED(kVocab);
    const auto tok = text::WordPieceTokenizer::load(kVocab);
    EXPECT_EQ(tok.tokenize("caf\xFF" "e"), tok.tokenize("cafe"));
    EXPECT_EQ(tok.tokenize("a\xC3"), tok.tokenize("a"));           // truncated 2-byte sequence
    EXPECT_EQ(tok.tokenize("x\xED\xA0\x80y"), tok.tokenize("xy"));  // encoded surrogate
    EXPECT_EQ(tok.tokenize("\xC0\xAF"), std::vector<std::string>{});  // overlong "/"
}

TEST(WordPieceTest, GreedyLongestMatchOnASmallVocabulary) {
    const text::WordPieceTokenizer tok(
        Vocabulary::from_tokens({"[UNK]", "un", "una", "##ff", "##aff", "##able", "##a", "x"}, "test"));
    EXPECT_THAT(tok.tokenize("unaffable"), ElementsAre("una", "##ff", "##able"));  // longest first piece wins
    const text::WordPieceTokenizer readme(Vocabulary::from_tokens({"[UNK]", "un", "##aff", "##able"}, "readme"));
    EXPECT_THAT(readme.tokenize("unaffable"), ElementsAre("un", "##aff", "##able"));
    EXPECT_THAT(tok.tokenize("unq x"), ElementsAre("[UNK]", "x"));                  // one unmatched piece: [UNK]
    EXPECT_THROW(text::WordPieceTokenizer(Vocabulary::from_tokens({"a"}, "t")), UsageError);
}

TEST(WordPieceTest, UnicodeClasses) {
    EXPECT_EQ(text::decode_utf8("\xE2\x82\xAC"), std::u32string(1, U'\u20AC'));
    EXPECT_TRUE(text::is_punctuation(U'$'));      // ASCII symbol counts, as in BERT
    EXPECT_TRUE(text::is_punctuation(U'\u2014'));  // em dash, Pd
    EXPECT_FALSE(text::is_punctuation(U'a'));
    EXPECT_TRUE(text::is_whitespace(U'\u3000'));
    EXPECT_TRUE(text::is_control(U'\u200B'));  // zero-width space is Cf: dropped, not a separator
    EXPECT_EQ(text::to_lower(U'\u00C9'), U'\u00E9');
    EXPECT_EQ(text::to_lower(U'\u0416'), U'\u0436');  // Cyrillic
    std::u32string out;
    for (const char32_t c : std::u32string(U"\u00E9\u0161\u1EC7\u0439\u0301\uD55C")) text::append_stripped(out, c);
    EXPECT_EQ(out, (std::u32string{U'e', U's', U'e', U'\u0438', 0x1112, 0x1161, 0x11AB}));
}

TEST(WordPieceTest, StopwordsAndSStemmer) {
    EXPECT_EQ(text::s_stem(U"queries"), U"query");
    EXPECT_EQ(text::s_stem(U"systems"), U"system");
    EXPECT_EQ(text::s_stem(U"glass"), U"glass");
    EXPECT_EQ(text::s_stem(U"status"), U"status");
    EXPECT_EQ(text::s_stem(U"goes"), U"goes");
    EXPECT_EQ(text::s_stem(U"its"), U"its");
    text::TokenizerOptions o;
    o.stopwords = text::stopword_list("english");
    o.s_stem = true;
    const text::WordPieceTokenizer tok(Vocabulary::from_tokens({"[UNK]", "system", "query", "of"}, "t"), o);
    EXPECT_THAT(tok.tokenize("The Systems of QUERIES"), ElementsAre("system", "query"));
    EXPECT_THROW((void)text::stopword_list("french"), UsageError);
    EXPECT_THROW((void)text::parse_stemmer("porter"), UsageError);
}

// ------------------------------------------------------------------------------------------- BM25 import

struct SmallText {
    test::ScratchDir dir;
    std::string vocab = dir.file("vocab.txt");
    std::string docs = dir.file("docs.jsonl");
    std::string queries = dir.file("queries.tsv");
    std::string out = dir.file("c.h5");
    SmallText() {
        write_file(vocab, "[PAD]\n[UNK]\nthe\ncat\ndog\nsat\n");
        write_file(docs, "{\"id\": \"d1\", \"contents\": \"The cat sat\"}\n"
                         "{\"id\": \"d2\", \"contents\": \"the dog\"}\n"
                         "{\"id\": \"d3\", \"contents\": \"cat cat dog\"}\n");
        write_file(queries, "q1\tcat sat cat\nq2\tdog\n");
    }
    /// Text import of `docs` (no queries) into `out` with `vocab`.
    ImportOptions options() const {
        ImportOptions opt;
        opt.format = "text";
        opt.docs = docs;
        opt.out = out;
        opt.vocab = vocab;
        return opt;
    }
    ImportStats import() const {
        auto opt = options();
        opt.queries = queries;
        return import_corpus(opt);
    }
};

TEST(TextImportTest, Bm25WeightsMatchAHandComputation) {
    SmallText t;
    const auto stats = t.import();
    EXPECT_EQ(stats.docs, 3U);
    const auto c = read_corpus(t.out);
    const auto& d = *c.doc_sparse;
    // N = 3, |d| = 3, 2, 3, avgdl = 8/3; cat: df 2, idf ln(1 + 1.5/2.5) = 0.4700036; sat: df 1, idf ln(1 + 2.5/1.5).
    // d3 cat: tf 2, norm 0.6 + 0.4 * 3 / (8/3) = 1.05, w = 0.4700036 * 2 * 1.9 / (2 + 0.945) = 0.6064563.
    ASSERT_EQ(d.row(2).size(), 2U);
    EXPECT_EQ(d.row(2).indices[0], 3U);
    EXPECT_NEAR(d.row(2).values[0], 0.6064563, 1e-6);
    EXPECT_EQ(d.row(0).indices[2], 5U);  // d1 sat
    EXPECT_NEAR(d.row(0).values[2], 0.9581365, 1e-6);
    EXPECT_EQ(c.doc_ids, (std::vector<std::string>{"d1", "d2", "d3"}));
    // Queries are token counts, so the dot product is the BM25 score.
    const auto q = c.query_sparse->row(0);
    ASSERT_EQ(q.size(), 2U);
    EXPECT_EQ(q.values[0], 2.0F);
    EXPECT_EQ(q.values[1], 1.0F);
    const h5::File f(t.out, h5::File::Mode::read);
    const auto tv = text::read_text_vocab(f);
    ASSERT_TRUE(tv && tv->stats);
    EXPECT_EQ(tv->stats->n_docs, 3U);
    EXPECT_NEAR(tv->stats->avgdl, 8.0 / 3.0, 1e-12);
    EXPECT_NEAR(tv->stats->idf[3], 0.47000363, 1e-6);
    EXPECT_EQ(tv->stats->df[5], 1U);
}

TEST(TextImportTest, BadInputIsAnErrorAndWritesNothing) {
    SmallText t;
    const auto expect_error = [&](const std::string& docs_text, const std::string& needle) {
        write_file(t.docs, docs_text);
        EXPECT_THAT(error_of([&] { t.import(); }), HasSubstr(needle)) << docs_text;
        EXPECT_FALSE(std::filesystem::exists(t.out));
        EXPECT_FALSE(std::filesystem::exists(t.out + ".tmp"));
    };
    expect_error("{\"id\": \"d1\"}\n", "line 1: missing \"contents\"");
    expect_error("{\"contents\": \"cat\"}\n", "line 1: missing id");
    expect_error("{\"id\": \"d1\", \"contents\": \"cat\"}\n{\"id\": \"d2\", \"contents\": \"  \"}\n",
                 "line 2: document 'd2' has no indexable WordPiece token");
    expect_error("{\"id\": \"d1\", \"contents\": \"cat\"}\n{\"id\": \"d1\", \"contents\": \"dog\"}\n", "duplicate id 'd1'");
    expect_error("", "empty file");
    expect_error("hello world\n", "cannot tell the text layout");
    // --skip-empty leaves the empty one out instead.
    write_file(t.docs, "{\"id\": \"d1\", \"contents\": \"cat\"}\n{\"id\": \"d2\", \"contents\": \"\"}\n");
    auto opt = t.options();
    opt.skip_empty = true;
    EXPECT_EQ(import_corpus(opt).docs, 1U);
    opt.k1 = -1;
    EXPECT_THROW(import_corpus(opt), UsageError);
}

// ------------------------------------------------------------------------------------------- tar reader

/// A tar archive of regular files (ustar headers, valid checksums, two zero end blocks), gzip-compressed.
std::string make_tar(const std::vector<std::pair<std::string, std::string>>& files) {
    std::string tar;
    for (const auto& [name, data] : files) {
        std::string h(512, '\0');
        name.copy(h.data(), std::min<std::size_t>(name.size(), 99));
        std::snprintf(h.data() + 100, 8, "%07o", 0644);
        std::snprintf(h.data() + 124, 12, "%011o", static_cast<unsigned>(data.size()));
        h[156] = '0';
        std::memcpy(h.data() + 257, "ustar\0" "00", 8);
        std::memset(h.data() + 148, ' ', 8);
        unsigned sum = 0;
        for (const char c : h) sum += static_cast<unsigned char>(c);
        std::snprintf(h.data() + 148, 8, "%06o", sum);
        tar += h + data + std::string((512 - data.size() % 512) % 512, '\0');
    }
    return tar + std::string(1024, '\0');
}

void write_gzip(const std::string& path, const std::string& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
}

TEST(TarReaderTest, ReadsGeneratedArchiveAndRejectsTruncation) {
    test::ScratchDir dir;
    const std::string big(1300, 'x');
    const auto tar = make_tar({{"cacm/CACM-0001.html", "<html><pre>Hello &amp; bye</pre></html>"}, {"cacm/b.txt", big}});
    write_gzip(dir.file("a.tar.gz"), tar);
    TarReader r(dir.file("a.tar.gz"));
    TarEntry e;
    ASSERT_TRUE(r.next(e));
    EXPECT_EQ(e.name, "cacm/CACM-0001.html");
    ASSERT_TRUE(r.next(e));
    EXPECT_EQ(e.data, big);
    EXPECT_FALSE(r.next(e));
    EXPECT_TRUE(TarReader::looks_like_tar(dir.file("a.tar.gz")));

    std::vector<TextRecord> recs;
    read_text_collection(dir.file("a.tar.gz"), Side::docs, [&](TextRecord&& rec) { recs.push_back(rec); });
    ASSERT_EQ(recs.size(), 2U);
    EXPECT_EQ(recs[0].id, "CACM-0001");
    EXPECT_THAT(recs[0].text, HasSubstr("Hello & bye"));
    EXPECT_EQ(recs[0].text.find('<'), std::string::npos);

    for (const std::size_t cut : {std::size_t{700}, std::size_t{1536}, tar.size() - 1024}) {
        write_gzip(dir.file("cut.tar.gz"), tar.substr(0, cut));
        EXPECT_THAT(error_of([&] {
                        TarReader t(dir.file("cut.tar.gz"));
                        while (t.next(e)) {
                        }
                    }),
                    HasSubstr("truncated"))
            << cut;
    }
    auto bad = tar;
    bad[10] = 'Z';  // checksum no longer matches
    write_file(dir.file("bad.tar"), bad);
    EXPECT_THAT(error_of([&] {
                    TarReader t(dir.file("bad.tar"));
                    (void)t.next(e);
                }),
                HasSubstr("checksum"));
}

// ------------------------------------------------------------------------------------------- parsers

TEST(TextCollectionsTest, CranfieldQueriesAreNumberedByPosition) {
    test::ScratchDir dir;
    write_file(dir.file("cran.qry"), ".I 001\n.W\nwhat similarity laws\n.I 004\n.W\nheat conduction\nin slabs .\n");
    std::vector<TextRecord> q;
    read_text_collection(dir.file("cran.qry"), Side::queries, [&](TextRecord&& r) { q.push_back(r); });
    ASSERT_EQ(q.size(), 2U);
    EXPECT_EQ(q[1].id, "2");  // not "004": cranqrel numbers queries 1..225
    EXPECT_THAT(q[1].text, HasSubstr("in slabs"));
    write_file(dir.file("cran.all"), ".I 7\n.T\nexperimental wing\n.A\nbrenckman,m.\n.B\nj. ae. 25\n.W\nlift increase\n");
    std::vector<TextRecord> d;
    read_text_collection(dir.file("cran.all"), Side::docs, [&](TextRecord&& r) { d.push_back(r); });
    ASSERT_EQ(d.size(), 1U);
    EXPECT_EQ(d[0].id, "7");
    for (const char* s : {"experimental wing", "brenckman", "lift increase"}) EXPECT_THAT(d[0].text, HasSubstr(s));
    write_file(dir.file("bad.qry"), "what\n.I 1\n.W\nx\n");
    EXPECT_THAT(error_of([&] { read_text_collection(dir.file("bad.qry"), Side::queries, [](TextRecord&&) {}); }),
                HasSubstr("cannot tell"));
    write_file(dir.file("bad2.qry"), ".I 1\nloose text\n");
    EXPECT_THAT(error_of([&] { read_text_collection(dir.file("bad2.qry"), Side::queries, [](TextRecord&&) {}); }),
                HasSubstr("line 2: text outside"));
}

TEST(TextCollectionsTest, TrecTopicsAndHtml) {
    test::ScratchDir dir;
    write_file(dir.file("topics.txt"),
               "<DOC>\n<DOCNO> 1 </DOCNO>\n\n What articles exist on TSS?\n</DOC>\n<DOC>\n<DOCNO> 2 </DOCNO>\n Pooch, U.\n</DOC>\n");
    std::vector<TextRecord> t;
    read_text_collection(dir.file("topics.txt"), Side::queries, [&](TextRecord&& r) { t.push_back(r); });
    ASSERT_EQ(t.size(), 2U);
    EXPECT_EQ(t[0].id, "1");
    EXPECT_THAT(t[0].text, HasSubstr("What articles exist on TSS?"));
    EXPECT_EQ(t[1].id, "2");
    write_file(dir.file("top.txt"), "<top>\n<num> Number: 301\n<title> International Organized Crime\n<desc> Description:\nx\n</top>\n");
    t.clear();
    read_text_collection(dir.file("top.txt"), Side::queries, [&](TextRecord&& r) { t.push_back(r); });
    ASSERT_EQ(t.size(), 1U);
    EXPECT_EQ(t[0].id, "301");
    EXPECT_THAT(t[0].text, HasSubstr("International Organized Crime"));
    EXPECT_EQ(t[0].text.find("Description"), std::string::npos);
    write_file(dir.file("open.txt"), "<DOC>\n<DOCNO> 1 </DOCNO>\ntext\n");
    EXPECT_THAT(error_of([&] { read_text_collection(dir.file("open.txt"), Side::queries, [](TextRecord&&) {}); }),
                HasSubstr("never closed"));
    EXPECT_EQ(strip_html("<p>a<b>b</b></p><script>x<y</script>&lt;&#233;&#x41;&bogus;"), " a b   <\u00E9A&bogus;");
}

// ------------------------------------------------------------------------------------------- query encoder

TEST(QueryEncoderTest, BothModesTokenMapsAndTheIndexCopy) {
    SmallText t;
    (void)t.import();
    const auto enc = text::QueryEncoder::from_corpus(t.out);
    const auto bm25 = enc.encode("Cat cat sat unknownword", text::QueryMode::bm25);
    EXPECT_EQ(bm25.indices, (std::vector<std::uint32_t>{3, 5}));  // [UNK] dropped
    EXPECT_EQ(bm25.values, (std::vector<float>{2.0F, 1.0F}));
    const auto idf = enc.encode("cat cat sat", text::QueryMode::idf);
    EXPECT_NEAR(idf.values[0], std::log(1.0 + 1.5 / 2.5), 1e-6);
    EXPECT_NEAR(idf.values[1], std::log(1.0 + 2.5 / 1.5), 1e-6);
    const auto tm = enc.encode_tokens({{"sat", 0.5F}, {"cat", 1.5F}});
    EXPECT_EQ(tm.indices, (std::vector<std::uint32_t>{3, 5}));
    EXPECT_EQ(tm.values, (std::vector<float>{1.5F, 0.5F}));
    EXPECT_THAT(error_of([&] { (void)enc.encode_tokens({{"zebra", 1.0F}}); }), HasSubstr("'zebra' is not in the vocabulary"));
    std::size_t dropped = 0;
    EXPECT_TRUE(enc.encode_tokens({{"zebra", 1.0F}}, true, &dropped).indices.empty());
    EXPECT_EQ(dropped, 1U);
    EXPECT_THROW((void)enc.encode_tokens({{"cat", 1.0F}, {"cat", 2.0F}}), InputError);
    EXPECT_THROW((void)text::parse_query_mode("splade"), UsageError);

    const auto idx = t.dir.file("idx");
    std::filesystem::create_directories(idx);
    ASSERT_TRUE(text::write_index_vocab(t.out, idx));
    const auto from_index = text::QueryEncoder::from_index(idx);
    const auto again = from_index.encode("cat cat sat", text::QueryMode::idf);
    EXPECT_EQ(again.indices, idf.indices);
    EXPECT_EQ(again.values, idf.values);
    EXPECT_FALSE(std::filesystem::exists(idx + "/vocab.h5.tmp"));
}

TEST(QueryEncoderTest, AppliesTheCorpusStopwordsAndStemmer) {
    SmallText t;
    write_file(t.vocab, "[PAD]\n[UNK]\nthe\ncat\ndog\nsat\ncats\n");
    write_file(t.docs, "{\"id\": \"d1\", \"contents\": \"The cats sat\"}\n");
    auto opt = t.options();
    opt.stopwords = "english";
    opt.stemmer = "s";
    (void)import_corpus(opt);
    const auto c = read_corpus(t.out);
    EXPECT_EQ(c.doc_sparse->row(0).size(), 2U);  // "the" removed, "cats" -> "cat"
    EXPECT_EQ(c.doc_sparse->row(0).indices[0], 3U);
    const auto q = text::QueryEncoder::from_corpus(t.out).encode("the cats", text::QueryMode::bm25);
    EXPECT_EQ(q.indices, (std::vector<std::uint32_t>{3}));
}

// ------------------------------------------------------------------------------------------- CACM end to end

TEST(TextEffectivenessTest, CacmBm25MapAboveMeasuredFloor) {
    const auto tar = test::shared_data("cacm/cacm.tar.gz");
    AFTERSHOCK_REQUIRE_SHARED(tar);
    AFTERSHOCK_REQUIRE_SHARED(kVocab);
    test::ScratchDir dir;
    ImportOptions opt;
    opt.format = "text";
    opt.docs = tar;
    opt.queries = test::shared_data("cacm/topics.cacm.txt");
    opt.out = dir.file("cacm.h5");
    opt.vocab = kVocab;
    opt.stopwords = "english";
    opt.stemmer = "s";
    const auto st = import_corpus(opt);
    EXPECT_EQ(st.docs, 3204U);
    EXPECT_EQ(st.queries, 64U);
    const auto c = read_corpus(opt.out);
    const SparseExactIndex index(*c.doc_sparse);
    const auto results = index.search_batch(*c.query_sparse, 1000, 1, nullptr);
    aftershock::Run run;
    for (std::size_t q = 0; q < results.size(); ++q) {
        for (std::size_t r = 0; r < results[q].size(); ++r) {
            run.entries.push_back({c.query_id(q), c.doc_id(results[q][r].doc), static_cast<std::int64_t>(r + 1),
                                   results[q][r].score});
        }
    }
    const auto e = evaluate(run, read_qrels(test::shared_data("cacm/qrels.cacm.txt")));
    EXPECT_EQ(e.n_queries, 52U);
    // Measured 0.2891 (docs/BENCHMARKS.md); Anserini's Lucene BM25 with Porter stemming gets 0.3123.
    EXPECT_GT(e.mean.at("map"), 0.275);
    EXPECT_GT(e.mean.at("ndcg_cut_10"), 0.39);
}

}  // namespace
}  // namespace aftershock
