// Run files, qrels, trec_eval-style measures and ANN recall. Expected values are computed by hand in the comments.
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/eval.hpp"
#include "aftershock/common/run_file.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

namespace aftershock {
namespace {

using test::ScratchDir;

Run run_from(const std::string& text) {
    std::istringstream in(text);
    return parse_run(in, "run");
}

Qrels qrels_from(const std::string& text) {
    std::istringstream in(text);
    return parse_qrels(in, "qrels");
}

/// Runs `fn`, expects E, and returns its message.
template <typename E, typename Fn>
std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const E& e) {
        return e.what();
    }
    ADD_FAILURE() << "no exception thrown";
    return {};
}

double log2d(double x) { return std::log2(x); }

// ---------------------------------------------------------------------------------------------------------------
// Run files

TEST(RunFile, ReadsTsvAndTrecAlike) {
    ScratchDir dir;
    const auto tsv = dir.file("run.tsv");
    const auto trec = dir.file("run.trec");
    test::write_text(tsv, "q1\tdoc-a\t1\t2.5\nq1\tdoc-b\t2\t-1e-3\r\n\nq2\tdoc a\t1\t7\n");
    test::write_text(trec, "q1 Q0 doc-a 1 2.5 tag\nq1\tQ0\tdoc-b  2 -1e-3 tag\n\nq2 Q0 doc_a 1 +7 tag\n");
    const auto a = read_run(tsv);
    const auto b = read_run(trec);
    EXPECT_EQ(a.format, RunFormat::tsv);
    EXPECT_EQ(b.format, RunFormat::trec);
    ASSERT_EQ(a.entries.size(), 3U);
    ASSERT_EQ(b.entries.size(), 3U);
    EXPECT_EQ(a.entries[0].qid, "q1");
    EXPECT_EQ(a.entries[0].docid, "doc-a");
    EXPECT_EQ(a.entries[1].rank, 2);
    EXPECT_DOUBLE_EQ(a.entries[1].score, -1e-3);
    EXPECT_EQ(a.entries[2].docid, "doc a");  // TSV ids may hold spaces
    EXPECT_EQ(b.entries[1].docid, "doc-b");
    EXPECT_DOUBLE_EQ(b.entries[1].score, -1e-3);
    EXPECT_DOUBLE_EQ(b.entries[2].score, 7.0);
}

TEST(RunFile, WriterRoundTripsFloats) {
    const float scores[] = {0.1F, 1.0F / 3.0F, 123456.789F, std::numeric_limits<float>::min(),
                            std::numeric_limits<float>::max(), -2.5e-7F, 0.0F};
    std::ostringstream out;
    for (std::size_t i = 0; i < std::size(scores); ++i) write_run_line(out, "q7", "doc" + std::to_string(i + 1), i + 1, scores[i]);
    const auto run = run_from(out.str());
    ASSERT_EQ(run.entries.size(), std::size(scores));
    for (std::size_t i = 0; i < run.entries.size(); ++i) {
        EXPECT_EQ(static_cast<float>(run.entries[i].score), scores[i]) << i;
        EXPECT_EQ(run.entries[i].rank, static_cast<std::int64_t>(i + 1));
    }
    EXPECT_EQ(out.str().substr(0, out.str().find('\n')), "q7\tdoc1\t1\t0.100000001");
}

TEST(RunFile, WriterToFileAndBadIds) {
    ScratchDir dir;
    const auto path = dir.file("w.tsv");
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    write_run_line(f, "1", "CACM-0001", 1, 12.5F);
    write_run_line(f, "1", "CACM-0002", 2, 12.25F);
    std::fclose(f);
    const auto run = read_run(path);
    ASSERT_EQ(run.entries.size(), 2U);
    EXPECT_EQ(run.entries[1].docid, "CACM-0002");
    EXPECT_DOUBLE_EQ(run.entries[1].score, 12.25);

    std::ostringstream out;
    EXPECT_THROW(write_run_line(out, "q\t1", "d", 1, 1.0F), UsageError);
    EXPECT_THROW(write_run_line(out, "q", "d\n", 1, 1.0F), UsageError);
    EXPECT_THROW(write_run_line(out, "", "d", 1, 1.0F), UsageError);
}

TEST(RunFile, BadInputCatalogue) {
    struct Case {
        const char* name;
        const char* text;
        int line;
        const char* says;
    };
    const Case cases[] = {
        {"three columns", "q1\td1\t1\n", 1, "4 tab-separated columns"},
        {"five words", "q1 Q0 d1 1 2.0\n", 1, "found 5 columns"},
        {"tsv then five", "q1\td1\t1\t2\nq1\td2\t2\t1\tx\n", 2, "found 5"},
        {"trec then four", "q1 Q0 d1 1 2 t\n\nq1\td2\t2\t1\n", 3, "6 TREC columns"},
        {"rank not a number", "q1\td1\tone\t2\n", 1, "rank 'one'"},
        {"rank fraction", "q1\td1\t1\t2\nq1\td2\t1.5\t2\n", 2, "rank '1.5'"},
        {"score not a number", "q1 Q0 d1 1 high t\n", 1, "score 'high'"},
        {"score trailing junk", "q1\td1\t1\t2.0x\n", 1, "score '2.0x'"},
        {"score nan", "q1\td1\t1\t2\nq1\td2\t2\tnan\n", 2, "NaN"},
        {"empty docid", "q1\t\t1\t2\n", 1, "empty document id"},
        {"duplicate doc", "q1\td1\t1\t2\nq2\td1\t1\t2\nq1\td1\t3\t1\n", 3, "first at line 1"},
    };
    ScratchDir dir;
    for (const auto& c : cases) {
        const auto path = dir.file("bad.run");
        test::write_text(path, c.text);
        const auto msg = error_of<InputError>([&] { static_cast<void>(read_run(path)); });
        EXPECT_NE(msg.find(path + ":" + std::to_string(c.line) + ":"), std::string::npos) << c.name << ": " << msg;
        EXPECT_NE(msg.find(c.says), std::string::npos) << c.name << ": " << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << c.name;
    }
    const auto missing = error_of<InputError>([&] { static_cast<void>(read_run(dir.file("nope.tsv"))); });
    EXPECT_NE(missing.find("nope.tsv"), std::string::npos);
}

TEST(RunFile, EmptyFileIsAnEmptyRun) {
    EXPECT_TRUE(run_from("").entries.empty());
    EXPECT_TRUE(run_from("\n  \n").entries.empty());
}

// ---------------------------------------------------------------------------------------------------------------
// Qrels

TEST(Qrels, ReadsGradedAndNegative) {
    const auto q = qrels_from("# comment\n1 0 a 2\n1 0 b 0\n\n2\t0\tc\t-1\n10 Q0 d +1\n");
    ASSERT_EQ(q.queries.size(), 3U);
    EXPECT_EQ(q.n_judgments(), 4U);
    EXPECT_EQ(q.queries.at("1").at("a"), 2);
    EXPECT_EQ(q.queries.at("1").at("b"), 0);
    EXPECT_EQ(q.queries.at("2").at("c"), -1);
    EXPECT_EQ(q.queries.at("10").at("d"), 1);
}

TEST(Qrels, BadInputCatalogue) {
    struct Case {
        const char* name;
        const char* text;
        int line;
        const char* says;
    };
    const Case cases[] = {
        {"three columns (cranqrel layout)", "1 184 2\n", 1, "expected 4 columns"},
        {"five columns", "1 0 a 1\n1 0 b 1 x\n", 2, "found 5"},
        {"fractional rel", "1 0 a 0.5\n", 1, "relevance '0.5'"},
        {"word rel", "1 0 a yes\n", 1, "relevance 'yes'"},
        {"duplicate", "1 0 a 1\n\n1 0 a 2\n", 3, "judged twice"},
    };
    ScratchDir dir;
    for (const auto& c : cases) {
        const auto path = dir.file("bad.qrels");
        test::write_text(path, c.text);
        const auto msg = error_of<InputError>([&] { static_cast<void>(read_qrels(path)); });
        EXPECT_NE(msg.find(path + ":" + std::to_string(c.line) + ":"), std::string::npos) << c.name << ": " << msg;
        EXPECT_NE(msg.find(c.says), std::string::npos) << c.name << ": " << msg;
    }
}

TEST(Qrels, CacmSmoke) {
    const auto path = test::shared_data("cacm/qrels.cacm.txt");
    AFTERSHOCK_REQUIRE_SHARED(path);
    const auto q = read_qrels(path);
    EXPECT_EQ(q.queries.size(), 52U);
    EXPECT_EQ(q.n_judgments(), 796U);
    EXPECT_EQ(q.queries.at("1").at("CACM-1410"), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// trec_eval measures

TEST(Eval, AveragePrecisionPrecisionRecall) {
    // Three relevant documents; the run finds two, at ranks 1 and 3 (d9 is judged non-relevant).
    const auto qrels = qrels_from("q 0 d1 1\nq 0 d2 1\nq 0 d3 1\nq 0 d9 0\n");
    const auto run = run_from("q\td1\t1\t5\nq\tdx\t2\t4\nq\td2\t3\t3\nq\tdy\t4\t2\nq\td9\t5\t1\n");
    EvalOptions opt;
    opt.recall_depths = {1000, 1, 3, 3};
    const auto r = evaluate(run, qrels, opt);
    EXPECT_EQ(r.n_queries, 1U);
    const std::vector<std::string> names{"map", "ndcg_cut_10", "P_10", "P_30", "recall_1", "recall_3", "recall_1000"};
    EXPECT_EQ(r.metrics, names);
    EXPECT_DOUBLE_EQ(r.mean.at("map"), (1.0 / 1.0 + 2.0 / 3.0) / 3.0);
    EXPECT_DOUBLE_EQ(r.mean.at("P_10"), 2.0 / 10.0);  // divides by the cut-off, not by what was retrieved
    EXPECT_DOUBLE_EQ(r.mean.at("P_30"), 2.0 / 30.0);
    EXPECT_DOUBLE_EQ(r.mean.at("recall_1"), 1.0 / 3.0);
    EXPECT_DOUBLE_EQ(r.mean.at("recall_3"), 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(r.mean.at("recall_1000"), 2.0 / 3.0);
    // Binary gains: DCG = 1/log2(2) + 1/log2(4); ideal = 1 + 1/log2(3) + 1/log2(4).
    EXPECT_DOUBLE_EQ(r.mean.at("ndcg_cut_10"), (1.0 + 0.5) / (1.0 + 1.0 / log2d(3) + 0.5));
    EXPECT_DOUBLE_EQ(r.per_query.at("q").at("map"), r.mean.at("map"));
}

TEST(Eval, GradedNdcgCut) {
    // Gains a=3 b=2 c=1, d judged 0, e unjudged-in-pool (-1). Run order c d a e b.
    const auto qrels = qrels_from("7 0 a 3\n7 0 b 2\n7 0 c 1\n7 0 d 0\n7 0 e -1\n");
    const auto run = run_from("7 Q0 c 1 0.9 t\n7 Q0 d 2 0.8 t\n7 Q0 a 3 0.7 t\n7 Q0 e 4 0.6 t\n7 Q0 b 5 0.5 t\n");
    EvalOptions opt;
    opt.ndcg_depths = {2, 10};
    const auto r = evaluate(run, qrels, opt);
    const double ideal10 = 3.0 + 2.0 / log2d(3) + 1.0 / log2d(4);
    const double dcg10 = 1.0 / log2d(2) + 3.0 / log2d(4) + 2.0 / log2d(6);
    EXPECT_DOUBLE_EQ(r.mean.at("ndcg_cut_10"), dcg10 / ideal10);
    EXPECT_NEAR(r.mean.at("ndcg_cut_10"), 0.6874847, 1e-6);
    EXPECT_DOUBLE_EQ(r.mean.at("ndcg_cut_2"), 1.0 / (3.0 + 2.0 / log2d(3)));
    // AP over three relevant documents at ranks 1, 3, 5: (1 + 2/3 + 3/5) / 3; e (-1) is not relevant.
    EXPECT_DOUBLE_EQ(r.mean.at("map"), (1.0 + 2.0 / 3.0 + 3.0 / 5.0) / 3.0);
}

TEST(Eval, TiesBrokenByDocidDescendingRankIgnored) {
    // b and a tie on score (written two ways); trec_eval puts b first. The rank column says otherwise and is ignored.
    const auto qrels = qrels_from("1 0 b 1\n");
    const auto run = run_from("1\ta\t1\t1.0\n1\tb\t2\t1\n1\tc\t3\t0.5\n");
    const auto r = evaluate(run, qrels);
    EXPECT_DOUBLE_EQ(r.mean.at("map"), 1.0);
    EXPECT_DOUBLE_EQ(r.mean.at("ndcg_cut_10"), 1.0);
    // Byte order, not numeric: "10" > "1" > "09", so on a tie "10" ranks first.
    const auto qrels2 = qrels_from("1 0 09 1\n");
    const auto run2 = run_from("1\t09\t1\t3\n1\t10\t2\t3\n1\t1\t3\t3\n");
    EXPECT_DOUBLE_EQ(evaluate(run2, qrels2).mean.at("map"), 1.0 / 3.0);
}

TEST(Eval, QueriesWithoutRelevantDocumentsAndMissingQueries) {
    // q1: AP 1. q2: judged but nothing relevant (0 and -1): trec_eval counts it with 0. q3: judged, not in the run.
    // q4: in the run, not judged: ignored.
    const auto qrels = qrels_from("q1 0 a 1\nq2 0 x 0\nq2 0 y -1\nq3 0 z 1\n");
    const auto run = run_from("q1\ta\t1\t2\nq2\tx\t1\t2\nq2\ty\t2\t1\nq4\ta\t1\t1\n");
    const auto def = evaluate(run, qrels);
    EXPECT_EQ(def.n_queries, 2U);
    EXPECT_EQ(def.n_missing, 1U);
    EXPECT_EQ(def.n_unjudged, 1U);
    EXPECT_DOUBLE_EQ(def.mean.at("map"), 0.5);
    EXPECT_DOUBLE_EQ(def.per_query.at("q2").at("map"), 0.0);
    EXPECT_DOUBLE_EQ(def.per_query.at("q2").at("ndcg_cut_10"), 0.0);
    EXPECT_DOUBLE_EQ(def.per_query.at("q2").at("recall_100"), 0.0);
    EXPECT_FALSE(def.per_query.contains("q3"));
    EXPECT_FALSE(def.per_query.contains("q4"));

    EvalOptions complete;
    complete.complete = true;  // trec_eval -c: q3 counts as 0
    const auto c = evaluate(run, qrels, complete);
    EXPECT_EQ(c.n_queries, 3U);
    EXPECT_DOUBLE_EQ(c.mean.at("map"), 1.0 / 3.0);
    EXPECT_DOUBLE_EQ(c.mean.at("P_10"), 0.1 / 3.0);
    EXPECT_DOUBLE_EQ(c.per_query.at("q3").at("map"), 0.0);

    EvalOptions skip;
    skip.skip_no_relevant = true;
    const auto s = evaluate(run, qrels, skip);
    EXPECT_EQ(s.n_queries, 1U);
    EXPECT_DOUBLE_EQ(s.mean.at("map"), 1.0);
    skip.complete = true;
    EXPECT_DOUBLE_EQ(evaluate(run, qrels, skip).mean.at("map"), 0.5);  // q1 and q3
}

TEST(Eval, MeanIsOverQueries) {
    // q1 AP = (1/2)/1; q2 AP = (1 + 2/2)/2 = 1.
    const auto qrels = qrels_from("q1 0 b 1\nq2 0 a 1\nq2 0 b 1\n");
    const auto run = run_from("q1\ta\t1\t2\nq1\tb\t2\t1\nq2\ta\t1\t2\nq2\tb\t2\t1\n");
    const auto r = evaluate(run, qrels);
    EXPECT_DOUBLE_EQ(r.per_query.at("q1").at("map"), 0.5);
    EXPECT_DOUBLE_EQ(r.per_query.at("q2").at("map"), 1.0);
    EXPECT_DOUBLE_EQ(r.mean.at("map"), 0.75);
}

TEST(Eval, Errors) {
    const auto qrels = qrels_from("1 0 a 1\n");
    const auto msg = error_of<InputError>([&] { static_cast<void>(evaluate(run_from("2\ta\t1\t1\n"), qrels)); });
    EXPECT_NE(msg.find("no query"), std::string::npos) << msg;
    EvalOptions bad;
    bad.precision_depths = {0};
    EXPECT_THROW(static_cast<void>(evaluate(run_from("1\ta\t1\t1\n"), qrels, bad)), UsageError);
    aftershock::Run dup;  // qualified: gtest's Test::Run hides the type inside TEST bodies
    dup.entries = {{"1", "a", 1, 1.0}, {"1", "a", 2, 0.5}};
    EXPECT_THROW(static_cast<void>(evaluate(dup, qrels)), InputError);
}

// ---------------------------------------------------------------------------------------------------------------
// ANN recall against ground truth

/// A 6-document, 3-query dense corpus with /groundtruth/dense of depth 3.
void write_small_corpus(const std::string& path, bool with_ids) {
    Corpus c;
    c.doc_dense = DenseMatrix{6, 2, std::vector<float>(12, 0.5F), Metric::ip};
    c.query_dense = DenseMatrix{3, 2, std::vector<float>(6, 0.5F), Metric::ip};
    if (with_ids) {
        c.doc_ids = {"d0", "d1", "d2", "d3", "d4", "d5"};
        c.query_ids = {"qa", "qb", "qc"};
    }
    write_corpus(path, c);
    GroundTruth gt;
    gt.n_queries = 3;
    gt.k = 3;
    gt.neighbors = {0, 1, 2, /**/ 5, 4, 3, /**/ 2, 0, 4};
    gt.distances = {3, 2, 1, 3, 2, 1, 3, 2, 1};
    h5::File f(path, h5::File::Mode::read_write);
    write_groundtruth(f, "dense", gt);
}

TEST(Recall, MapsExternalIds) {
    ScratchDir dir;
    const auto path = dir.file("c.h5");
    write_small_corpus(path, true);
    // qa: top-2 {d0,d1}, run top-2 by rank {d1,d5} -> 1/2. qb: {d5,d4} vs {d4,d5} -> 1 (d0 at rank 3 is beyond k).
    // qc: missing -> 0. Query "zz" is not a corpus query: ignored.
    const auto run = run_from("qa\td5\t2\t1\nqa\td1\t1\t2\nqa\td0\t3\t0.5\n"
                              "qb\td4\t1\t9\nqb\td5\t2\t8\nqb\td0\t3\t7\n"
                              "zz\tnot-a-doc\t1\t1\n");
    const auto r = recall_at_k(run, path, "dense", 2);
    EXPECT_EQ(r.k, 2U);
    EXPECT_EQ(r.n_queries, 3U);
    EXPECT_EQ(r.n_missing, 1U);
    EXPECT_EQ(r.n_unknown_queries, 1U);
    ASSERT_EQ(r.per_query.size(), 3U);
    EXPECT_EQ(r.query_ids, (std::vector<std::string>{"qa", "qb", "qc"}));
    EXPECT_DOUBLE_EQ(r.per_query[0], 0.5);
    EXPECT_DOUBLE_EQ(r.per_query[1], 1.0);
    EXPECT_DOUBLE_EQ(r.per_query[2], 0.0);
    EXPECT_DOUBLE_EQ(r.recall, 0.5);
    EXPECT_DOUBLE_EQ(recall_at_k(run, path, "dense", 3).per_query[0], 2.0 / 3.0);
}

TEST(Recall, ImplicitIds) {
    ScratchDir dir;
    const auto path = dir.file("c.h5");
    write_small_corpus(path, false);
    const auto run = run_from("0\t0\t1\t3\n0\t1\t2\t2\n0\t2\t3\t1\n1\t5\t1\t1\n2\t2\t1\t1\n2\t0\t2\t1\n2\t4\t3\t1\n");
    const auto r = recall_at_k(run, path, "dense", 3);
    EXPECT_EQ(r.n_missing, 0U);
    EXPECT_DOUBLE_EQ(r.per_query[0], 1.0);
    EXPECT_DOUBLE_EQ(r.per_query[1], 1.0 / 3.0);
    EXPECT_DOUBLE_EQ(r.per_query[2], 1.0);
    EXPECT_DOUBLE_EQ(r.recall, (1.0 + 1.0 / 3.0 + 1.0) / 3.0);
    // "01" is not the implicit id "1", and 6 is past the last document.
    EXPECT_THROW(static_cast<void>(recall_at_k(run_from("0\t01\t1\t1\n"), path, "dense", 1)), InputError);
    EXPECT_THROW(static_cast<void>(recall_at_k(run_from("0\t6\t1\t1\n"), path, "dense", 1)), InputError);
}

TEST(Recall, Errors) {
    ScratchDir dir;
    const auto path = dir.file("c.h5");
    write_small_corpus(path, true);
    const auto run = run_from("qa\td0\t1\t1\n");
    const auto unknown = error_of<InputError>(
        [&] { static_cast<void>(recall_at_k(run_from("qa\td0\t1\t1\nqb\tD9\t1\t1\n"), path, "dense", 1)); });
    EXPECT_NE(unknown.find("'D9'"), std::string::npos) << unknown;
    const auto missing = error_of<InputError>([&] { static_cast<void>(recall_at_k(run, path, "sparse", 1)); });
    EXPECT_NE(missing.find("aftershock groundtruth"), std::string::npos) << missing;
    EXPECT_NE(missing.find(path), std::string::npos) << missing;
    EXPECT_THROW(static_cast<void>(recall_at_k(run, path, "dense", 4)), UsageError);
    EXPECT_THROW(static_cast<void>(recall_at_k(run, path, "dense", 0)), UsageError);
    EXPECT_THROW(static_cast<void>(recall_at_k(run, path, "fancy", 1)), UsageError);
}

TEST(Recall, InMemoryPaddingAndDuplicates) {
    GroundTruth gt;
    gt.n_queries = 1;
    gt.k = 3;
    gt.neighbors = {1, 0, -1};  // only two documents exist
    gt.distances = {2, 1, 0};
    aftershock::Run run;
    run.entries = {{"0", "1", 1, 2.0}, {"0", "1", 2, 2.0}, {"0", "0", 3, 1.0}};  // a duplicate counts once
    const auto r = recall_at_k(run, gt, {}, 2, {}, 3);
    EXPECT_DOUBLE_EQ(r.recall, 1.0);
    gt.neighbors = {1, 0, 2};
    EXPECT_THROW(static_cast<void>(recall_at_k(run, gt, {}, 2, {}, 3)), InputError);  // index 2 out of range
    EXPECT_THROW(static_cast<void>(recall_at_k(run, gt, {"a", "a"}, 2, {}, 1)), InputError);  // duplicate ids
}

}  // namespace
}  // namespace aftershock
