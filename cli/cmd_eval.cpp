// aftershock eval: relevance measures of a run against TREC qrels, computed as trec_eval computes them.
#include "commands.hpp"

#include "aftershock/common/eval.hpp"
#include "aftershock/common/run_file.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

namespace aftershock::cli {
namespace {

struct EvalCliOptions {
    std::string run;
    std::string qrels;
    bool complete = false;
    bool per_query = false;
    std::vector<std::size_t> recall_depths{100, 1000};
};

void run_eval(const EvalCliOptions& o) {
    const auto run = read_run(o.run);
    const auto qrels = read_qrels(o.qrels);
    EvalOptions options;
    options.complete = o.complete;
    options.recall_depths = o.recall_depths;
    const auto result = evaluate(run, qrels, options);
    if (result.n_unjudged > 0) {
        spdlog::warn("eval: {} run queries have no judgments in {} and are ignored", result.n_unjudged, o.qrels);
    }
    if (result.n_missing > 0) {
        spdlog::warn("eval: {} judged queries are missing from the run; {}", result.n_missing,
                     o.complete ? "they count as 0 (--complete)" : "they are left out (use --complete to count them as 0)");
    }
    std::size_t width = std::string_view("num_q").size();
    for (const auto& m : result.metrics) width = std::max(width, m.size());
    if (o.per_query) {
        std::size_t qid_width = 3;
        for (const auto& [qid, values] : result.per_query) qid_width = std::max(qid_width, qid.size());
        for (const auto& [qid, values] : result.per_query) {
            for (const auto& m : result.metrics) {
                fmt::print("{:<{}}  {:<{}}  {:.4f}\n", m, width, qid, qid_width, values.at(m));
            }
        }
        for (const auto& m : result.metrics) {
            fmt::print("{:<{}}  {:<{}}  {:.4f}\n", m, width, "all", qid_width, result.mean.at(m));
        }
        fmt::print("{:<{}}  {:<{}}  {}\n", "num_q", width, "all", qid_width, result.n_queries);
        return;
    }
    for (const auto& m : result.metrics) fmt::print("{:<{}}  {:.4f}\n", m, width, result.mean.at(m));
    fmt::print("{:<{}}  {}\n", "num_q", width, result.n_queries);
}

}  // namespace

void register_eval(CLI::App& app) {
    auto opts = std::make_shared<EvalCliOptions>();
    auto* sub = app.add_subcommand("eval", "MAP, nDCG@10, P@k and recall@k of a run against TREC qrels (as trec_eval)");
    sub->add_option("--run", opts->run, "run file: TSV (qid docid rank score) or TREC (qid Q0 docid rank score tag)")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--qrels", opts->qrels, "TREC qrels file (qid iter docid rel)")->required()->check(CLI::ExistingFile);
    sub->add_flag("--complete,-c", opts->complete,
                  "average over every judged query, counting those missing from the run as 0 (trec_eval -c)");
    sub->add_option("--recall-depths", opts->recall_depths, "recall cut-offs, comma separated")
        ->delimiter(',')
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
    sub->add_flag("--per-query,-q", opts->per_query, "also print every query's measures (trec_eval -q)");
    sub->callback([opts] { run_eval(*opts); });
}

}  // namespace aftershock::cli
