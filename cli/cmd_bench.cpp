// aftershock bench: recall@k versus single-thread latency for a grid of Seismic search parameters, with
// exact search in the same run; a CSV and an ann-benchmarks-style PNG (gnuplot).
#include "commands.hpp"

#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/sweep.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

namespace aftershock::cli {
namespace {

struct BenchOptions {
    std::string index;
    std::string corpus;
    std::string csv;
    std::string plot;
    std::string title = "Aftershock Seismic vs exact";
    SweepOptions sweep;
};

void write_csv(const std::string& path, const std::vector<SweepPoint>& points, const SweepOptions& o) {
    std::ofstream out(path);
    ensure(out.good(), "cannot write {}", path);
    const double exact_mean = points.front().latency.mean;
    out << "method,query_cut,heap_factor,knn,first_sorted,k,recall,mean_us,p50_us,p99_us,qps_1thread,speedup_vs_exact,docs_scored\n";
    for (const auto& p : points) {
        out << fmt::format("{},{},{:.2f},{},{},{},{:.4f},{:.1f},{:.1f},{:.1f},{:.0f},{:.1f},{:.0f}\n", p.method, p.query_cut,
                           p.heap_factor, p.knn, p.first_sorted ? 1 : 0, o.k, p.recall, p.latency.mean, p.latency.p50,
                           p.latency.p99, p.latency.mean > 0 ? 1e6 / p.latency.mean : 0.0,
                           p.latency.mean > 0 ? exact_mean / p.latency.mean : 0.0, p.docs_scored);
    }
    ensure(out.good(), "cannot write {} (disk full?)", path);
}

void write_plot(const std::string& csv, const std::string& png, const std::string& title, std::size_t k) {
    const auto script = png + ".gp";
    {
        std::ofstream gp(script);
        gp << "set datafile separator ','\n"
           << "set terminal pngcairo size 900,600 noenhanced\n"
           << fmt::format("set output '{}'\n", png)
           << fmt::format("set title '{}'\n", title)
           << fmt::format("set xlabel 'recall@{}'\n", k)
           << "set ylabel 'mean latency per query (us, single thread, log scale)'\n"
           << "set logscale y\nset grid\nset key bottom right\n"
           << fmt::format("plot '{0}' using (strcol(1) eq \"seismic\" ? $7 : 1/0):8 with points pt 7 ps 0.8 title 'Seismic (query_cut x heap_factor grid)', \\\n"
                          "     '{0}' using (strcol(1) eq \"exact\" ? $7 : 1/0):8 with points pt 5 ps 1.5 title 'exact search'\n",
                          csv);
    }
    const auto cmd = fmt::format("gnuplot '{}' 2>&1", script);
    const int rc = std::system(cmd.c_str());
    ensure(rc == 0, "gnuplot failed ({}); the CSV {} is complete", rc, csv);
    std::filesystem::remove(script);
}

void run_bench(const BenchOptions& o) {
    CorpusParts parts;
    parts.dense = false;
    parts.ids = false;
    parts.vocab = false;
    const auto corpus = read_corpus(o.corpus, parts);
    ensure<InputError>(corpus.doc_sparse && corpus.query_sparse, "{}: no sparse documents and queries", o.corpus);
    const auto index = LocalIndex::open(o.index);
    ensure<InputError>(index.n_docs() == corpus.n_docs(), "index has {} documents but the corpus {}", index.n_docs(),
                       corpus.n_docs());
    const auto points = run_sweep(index, *corpus.doc_sparse, *corpus.query_sparse, o.sweep);
    const double exact = points.front().latency.mean;
    fmt::print("{:<8} {:>4} {:>5} {:>4} {:>8} {:>10} {:>10} {:>10} {:>9} {:>8}\n", "method", "qc", "hf", "knn", "recall",
               "mean_us", "p50_us", "p99_us", "speedup", "scored");
    for (const auto& p : points) {
        fmt::print("{:<8} {:>4} {:>5.2f} {:>4} {:>8.4f} {:>10.1f} {:>10.1f} {:>10.1f} {:>8.1f}x {:>8.0f}\n", p.method, p.query_cut,
                   p.heap_factor, p.knn, p.recall, p.latency.mean, p.latency.p50, p.latency.p99,
                   p.latency.mean > 0 ? exact / p.latency.mean : 0.0, p.docs_scored);
    }
    if (!o.csv.empty()) {
        write_csv(o.csv, points, o.sweep);
        if (!o.plot.empty()) write_plot(o.csv, o.plot, o.title, o.sweep.k);
    }
}

}  // namespace

void register_bench(CLI::App& app) {
    auto opts = std::make_shared<BenchOptions>();
    auto* sub = app.add_subcommand("bench", "recall vs latency sweep of Seismic parameters, exact baseline in the same run");
    sub->add_option("--index", opts->index, "index directory")->required()->check(CLI::ExistingDirectory);
    sub->add_option("--corpus", opts->corpus, "the corpus the index was built from (documents and queries)")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--k", opts->sweep.k, "neighbours")->capture_default_str()->check(CLI::Range(1, 10000));
    sub->add_option("--query-cuts", opts->sweep.query_cuts, "query_cut values")->delimiter(',')->capture_default_str();
    sub->add_option("--heap-factors", opts->sweep.heap_factors, "heap_factor values")->delimiter(',')->capture_default_str();
    sub->add_option("--knn", opts->sweep.knns, "kNN refinement values (0 = off)")->delimiter(',')->capture_default_str();
    sub->add_flag("--first-sorted", opts->sweep.first_sorted, "visit the first list's blocks by summary score");
    sub->add_option("--max-queries", opts->sweep.max_queries, "use only the first N queries (0 = all)")->capture_default_str();
    sub->add_option("--runs", opts->sweep.runs, "repetitions per point; the median is reported")->capture_default_str();
    sub->add_option("--csv", opts->csv, "write the points as CSV");
    sub->add_option("--plot", opts->plot, "write a PNG plot (needs --csv and gnuplot)");
    sub->add_option("--title", opts->title, "plot title");
    sub->callback([opts] { run_bench(*opts); });
}

}  // namespace aftershock::cli
