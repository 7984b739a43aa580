// aftershock recall: ANN recall@k of a run against the exact ground truth stored in the corpus file.
#include "commands.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/eval.hpp"
#include "aftershock/common/run_file.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

namespace aftershock::cli {
namespace {

struct RecallCliOptions {
    std::string run;
    std::string corpus;
    std::string truth;  ///< a reference run instead of the corpus ground truth
    std::size_t k = 10;
    std::string mode = "sparse";
};

/// Top-k docids per query of a run, in rank order.
std::map<std::string, std::vector<std::string>> top_k(const Run& run, std::size_t k) {
    std::map<std::string, std::vector<std::pair<std::int64_t, std::string>>> by_query;
    for (const auto& e : run.entries) by_query[e.qid].emplace_back(e.rank, e.docid);
    std::map<std::string, std::vector<std::string>> out;
    for (auto& [q, list] : by_query) {
        std::sort(list.begin(), list.end());
        auto& ids = out[q];
        for (std::size_t i = 0; i < list.size() && i < k; ++i) ids.push_back(list[i].second);
    }
    return out;
}

/// Recall@k of `run` against another run taken as the truth (e.g. exact answers from the cluster).
void recall_against_run(const RecallCliOptions& o) {
    const auto got = top_k(read_run(o.run), o.k);
    const auto want = top_k(read_run(o.truth), o.k);
    double sum = 0.0;
    std::size_t missing = 0;
    for (const auto& [q, truth] : want) {
        const auto it = got.find(q);
        if (it == got.end()) {
            ++missing;
            continue;
        }
        const std::set<std::string> t(truth.begin(), truth.end());
        std::size_t hit = 0;
        for (const auto& d : it->second) hit += t.count(d);
        sum += truth.empty() ? 1.0 : static_cast<double>(hit) / static_cast<double>(t.size());
    }
    const double recall = want.empty() ? 0.0 : sum / static_cast<double>(want.size());
    fmt::print("recall@{} {:.4f} queries={} missing={}\n", o.k, recall, want.size(), missing);
}

void run_recall(const RecallCliOptions& o) {
    ensure<UsageError>(o.truth.empty() != o.corpus.empty(), "give either --corpus (its ground truth) or --truth RUN");
    if (!o.truth.empty()) {
        recall_against_run(o);
        return;
    }
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
    sub->add_option("--corpus", opts->corpus, "corpus HDF5 file holding /groundtruth/<mode>")->check(CLI::ExistingFile);
    sub->add_option("--truth", opts->truth, "a reference run (e.g. exact answers) instead of the corpus ground truth")
        ->check(CLI::ExistingFile);
    sub->add_option("--k", opts->k, "cut-off")->capture_default_str()->check(CLI::Range(1, 1000000));
    sub->add_option("--mode", opts->mode, "sparse | dense | hybrid")
        ->capture_default_str()
        ->check(CLI::IsMember({"sparse", "dense", "hybrid"}));
    sub->callback([opts] { run_recall(*opts); });
}

}  // namespace aftershock::cli
