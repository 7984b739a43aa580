// aftershock groundtruth: exact top-K of every query, written into the corpus file.
#include "commands.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/groundtruth.hpp"
#include "aftershock/common/progress.hpp"

#include <spdlog/spdlog.h>

#include <memory>

namespace aftershock::cli {
namespace {

struct GroundTruthOptions {
    std::string corpus;
    std::size_t k = 100;
    std::string mode = "sparse";
    unsigned threads = 0;
};

void run_groundtruth(const GroundTruthOptions& o) {
    const auto mode = parse_search_mode(o.mode);
    CorpusParts parts;
    parts.sparse = mode == SearchMode::sparse;
    parts.dense = mode == SearchMode::dense;
    parts.ids = false;
    parts.vocab = false;
    const auto corpus = read_corpus(o.corpus, parts);
    spdlog::info("groundtruth: {} queries x {} docs, mode {}, k {}", corpus.n_queries(), corpus.n_docs(), o.mode, o.k);
    Progress progress("groundtruth", corpus.n_queries(), "queries");
    const auto gt = compute_groundtruth(corpus, mode, o.k, o.threads);
    progress.add(gt.n_queries);
    progress.finish();
    h5::File file(o.corpus, h5::File::Mode::read_write);
    write_groundtruth(file, o.mode, gt);
    spdlog::info("groundtruth: wrote /groundtruth/{}/{{neighbors,distances}} [{}, {}] to {}", o.mode, gt.n_queries, gt.k,
                 o.corpus);
}

}  // namespace

void register_groundtruth(CLI::App& app) {
    auto opts = std::make_shared<GroundTruthOptions>();
    auto* sub = app.add_subcommand("groundtruth", "exact top-K of every query, stored in the corpus file");
    sub->add_option("--corpus", opts->corpus, "corpus HDF5 file (updated in place)")->required()->check(CLI::ExistingFile);
    sub->add_option("--k", opts->k, "neighbours per query")->capture_default_str()->check(CLI::Range(1, 100000));
    sub->add_option("--mode", opts->mode, "sparse | dense")->capture_default_str()->check(CLI::IsMember({"sparse", "dense"}));
    sub->add_option("--threads", opts->threads, "worker threads (0 = all cores)")->capture_default_str();
    sub->callback([opts] { run_groundtruth(*opts); });
}

}  // namespace aftershock::cli
