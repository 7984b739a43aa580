// `aftershock import`: third-party vector files -> corpus HDF5 (see common/import/importers.hpp).
#include "commands.hpp"

#include "aftershock/common/import/importers.hpp"

#include <spdlog/spdlog.h>

#include <memory>

namespace aftershock::cli {

void register_import(CLI::App& app) {
    struct State {
        ImportOptions opt;
        std::string metric;
    };
    auto st = std::make_shared<State>();
    auto* sub = app.add_subcommand("import", "import JSONL, TSV, BigANN .csr, Seismic .bin, ann-benchmarks HDF5 or "
                                             "fvecs vectors, or raw text (BM25 over WordPiece), into a corpus HDF5 file");
    sub->add_option("--format", st->opt.format, "input format")
        ->required()
        ->check(CLI::IsMember(import_formats()));
    sub->add_option("--docs", st->opt.docs, "documents file (plain or .gz)");
    sub->add_option("--queries", st->opt.queries, "queries file (plain or .gz)");
    sub->add_option("--out", st->opt.out, "corpus HDF5 file to write")->required();
    sub->add_option("--vocab", st->opt.vocab,
                    "fixed vocabulary for jsonl/tsv-tokens/text: JSON list (e.g. bert vocab.json) or vocab.txt "
                    "(text: default shared/data/bert_vocab_npm/vocab.json, see docs/FORMATS.md)");
    sub->add_option("--metric", st->metric, "dense metric: ip, cosine or l2 (default ip; ann-benchmarks: the file's)")
        ->check(CLI::IsMember({"ip", "cosine", "l2", "dot", "angular", "euclidean"}));
    sub->add_flag("--append", st->opt.append,
                  "add the imported parts to the existing --out corpus (rows matched by id)");
    sub->add_option("--holdout", st->opt.holdout, "use the last N records of --docs as the queries");
    sub->add_option("--weight-scale", st->opt.weight_scale,
                    "sparse weight = value / scale (default: 1000 for tsv-tokens, 1 otherwise)");
    sub->add_option("--groundtruth", st->opt.groundtruth,
                    "ground truth: BigANN .gt (bigann-csr, seismic-bin) or .ivecs (fvecs)");
    sub->add_option("--k1", st->opt.k1, "text: BM25 k1")->capture_default_str()->check(CLI::NonNegativeNumber);
    sub->add_option("--b", st->opt.b, "text: BM25 b")->capture_default_str()->check(CLI::Range(0.0, 1.0));
    sub->add_option("--stopwords", st->opt.stopwords, "text: remove Lucene's English stopwords from docs and queries")
        ->check(CLI::IsMember({"none", "english"}));
    sub->add_option("--stemmer", st->opt.stemmer, "text: s = strip plurals (Harman's S-stemmer) before WordPiece")
        ->check(CLI::IsMember({"none", "s"}));
    sub->add_flag("--skip-empty", st->opt.skip_empty, "text: leave out records without a token instead of failing");
    sub->add_option("--batch-rows", st->opt.batch_rows, "rows per write batch")->capture_default_str();
    sub->callback([st] {
        if (!st->metric.empty()) st->opt.metric = parse_metric(st->metric);
        const auto s = import_corpus(st->opt);
        spdlog::info("import: wrote {}: {} docs, {} queries, nnz {} docs / {} queries, dim {}, dense dim {}, "
                     "{} unknown query tokens dropped, {} zero weights dropped",
                     st->opt.out, s.docs, s.queries, s.doc_nnz, s.query_nnz, s.dim, s.dense_dim,
                     s.unknown_query_tokens, s.dropped_zero_weights);
    });
}

}  // namespace aftershock::cli
