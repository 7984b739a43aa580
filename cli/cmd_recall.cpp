// aftershock recall: ANN recall@k of a run against the exact ground truth stored in the corpus file.
#include "commands.hpp"

#include "aftershock/common/eval.hpp"
#include "aftershock/common/run_file.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace aftershock::cli {
namespace {

struct RecallCliOptions {
    std::string run;
    std::string corpus;
    std::size_t k = 10;
    std::string mode = "sparse";
};

void run_recall(const RecallCliOptions& o) {
    const auto run = read_run(o.run);
    const auto result = recall_at_k(run, o.corpus, o.mode, o.k);
    if (result.n_unknown_queries > 0) {
        spdlog::warn("recall: {} run queries are not queries of {} and are ignored", result.n_unknown_queries, o.corpus);
    }
    if (result.n_missing > 0) {
        spdlog::warn("recall: {} of {} queries are missing from the run and count as recall 0", result.n_missing,
                     result.n_queries);
    }
    fmt::print("recall@{} {:.4f} queries={} missing={}\n", result.k, result.recall, result.n_queries, result.n_missing);
}

}  // namespace

void register_recall(CLI::App& app) {
    auto opts = std::make_shared<RecallCliOptions>();
    auto* sub = app.add_subcommand("recall", "recall@k of a run against the corpus's exact ground truth");
    sub->add_option("--run", opts->run, "run file: TSV (qid docid rank score) or TREC (qid Q0 docid rank score tag)")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--corpus", opts->corpus, "corpus HDF5 file holding /groundtruth/<mode>")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--k", opts->k, "cut-off")->capture_default_str()->check(CLI::Range(1, 1000000));
    sub->add_option("--mode", opts->mode, "sparse | dense | hybrid")
        ->capture_default_str()
        ->check(CLI::IsMember({"sparse", "dense", "hybrid"}));
    sub->callback([opts] { run_recall(*opts); });
}

}  // namespace aftershock::cli
