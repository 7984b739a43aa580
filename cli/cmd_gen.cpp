// aftershock gen: a seeded synthetic SPLADE-like corpus (docs/GENERATOR.md) written as a corpus file.
#include "commands.hpp"

#include "aftershock/common/generator.hpp"

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace aftershock::cli {
namespace {

struct GenOptions {
    GeneratorOptions gen;
    std::string out;
};

void run_gen(const GenOptions& o) {
    const auto stats = generate_corpus(o.gen, o.out);
    spdlog::info("gen: wrote {}: {} docs ({:.1f} nnz/doc), {} queries ({:.1f} nnz/query), {} topics in {:.1f} s", o.out,
                 stats.docs, stats.docs ? static_cast<double>(stats.doc_nnz) / static_cast<double>(stats.docs) : 0.0,
                 stats.queries,
                 stats.queries ? static_cast<double>(stats.query_nnz) / static_cast<double>(stats.queries) : 0.0,
                 stats.n_topics, stats.seconds);
}

}  // namespace

void register_gen(CLI::App& app) {
    auto opts = std::make_shared<GenOptions>();
    auto* sub = app.add_subcommand("gen", "generate a synthetic SPLADE-like corpus (calibrated on real SPLADE++ queries)");
    sub->add_option("--docs", opts->gen.n_docs, "number of documents")->capture_default_str();
    sub->add_option("--queries", opts->gen.n_queries, "number of queries")->capture_default_str();
    sub->add_option("--seed", opts->gen.seed, "random seed (same seed, same corpus)")->capture_default_str();
    sub->add_option("--dim", opts->gen.dim, "vocabulary size (30522: BERT ids)")->capture_default_str();
    sub->add_option("--dense-dim", opts->gen.dense_dim, "dense vector dimension (0: sparse only)")->capture_default_str();
    sub->add_option("--topics", opts->gen.n_topics, "number of topics (0: about one per 250 documents)")
        ->capture_default_str();
    sub->add_option("--threads", opts->gen.threads, "worker threads (0: all cores)")->capture_default_str();
    sub->add_option("--out", opts->out, "output corpus HDF5 file")->required();
    sub->callback([opts] { run_gen(*opts); });
}

}  // namespace aftershock::cli
