// aftershock inspect: what a corpus file holds, and (with --verify) a full validation of every row.
#include "commands.hpp"

#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"

#include <spdlog/spdlog.h>

#include <memory>

namespace aftershock::cli {
namespace {

struct InspectOptions {
    std::string corpus;
    bool verify = false;
};

void run_inspect(const InspectOptions& o) {
    const h5::File file(o.corpus, h5::File::Mode::read);
    const auto info = describe_corpus(file);
    fmt::print("corpus      {}\n", o.corpus);
    fmt::print("layout      {}\n", info.ann_benchmarks ? "ann-benchmarks (/train, /test)" : "aftershock (DESIGN.md §4)");
    fmt::print("documents   {}\n", info.n_docs);
    fmt::print("queries     {}\n", info.n_queries);
    if (info.docs_sparse) {
        fmt::print("sparse      dim {}, doc nnz {} ({:.1f}/doc), query nnz {} ({:.1f}/query)\n", info.dim, info.doc_nnz,
                   info.n_docs ? double(info.doc_nnz) / double(info.n_docs) : 0.0, info.query_nnz,
                   info.n_queries ? double(info.query_nnz) / double(info.n_queries) : 0.0);
    }
    if (info.docs_dense) fmt::print("dense       d {}, metric {}\n", info.dense_dim, to_string(info.metric));
    fmt::print("ids         docs {}, queries {}\n", file.exists("/docs/ids") ? "stored" : "implicit 0..n-1",
               file.exists("/queries/ids") ? "stored" : "implicit 0..n-1");
    fmt::print("vocab       {}\n", file.exists("/vocab") ? "stored" : "none");
    for (const char* mode : {"sparse", "dense", "hybrid"}) {
        if (auto gt = read_groundtruth(file, mode)) fmt::print("groundtruth {}: {} queries x k {}\n", mode, gt->n_queries, gt->k);
    }
    if (o.verify) {
        const auto corpus = read_corpus(o.corpus);
        fmt::print("verify      ok: every row of {} documents and {} queries is valid\n", corpus.n_docs(),
                   corpus.n_queries());
    }
}

}  // namespace

void register_inspect(CLI::App& app) {
    auto opts = std::make_shared<InspectOptions>();
    auto* sub = app.add_subcommand("inspect", "describe a corpus file; --verify validates every row");
    sub->add_option("--corpus", opts->corpus, "corpus HDF5 file")->required()->check(CLI::ExistingFile);
    sub->add_flag("--verify", opts->verify, "load and validate every row");
    sub->callback([opts] { run_inspect(*opts); });
}

}  // namespace aftershock::cli
