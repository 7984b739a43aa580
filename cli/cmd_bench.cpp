// aftershock bench: recall@k versus single-thread latency for a grid of Seismic (--mode sparse) or FAISS
// (--mode dense: ef_search / nprobe) search parameters, with exact search in the same run; a CSV and an
// ann-benchmarks-style PNG (gnuplot).
#include "commands.hpp"

#include "aftershock/common/corpus.hpp"
#include "aftershock/common/dense/sweep.hpp"
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
    std::string title;
    std::string mode = "sparse";
    SweepOptions sweep;
    dense::SweepOptions dense;
};

void write_csv(const std::string& path, const std::vector<SweepPoint>& points, const SweepOptions& o) {
    std::ofstream out(path);
    ensure(out.good(), "cannot write {}", path);
    // speedup_vs_exact: the median round's paired ratio (SweepPoint::speedup); speedup_lowest: the slowest round's. Four
    // significant digits: a point slower than exact search still shows how much.
    out << "method,query_cut,heap_factor,knn,first_sorted,k,recall,mean_us,p50_us,p99_us,qps_1thread,speedup_vs_exact,docs_scored,"
           "screen_entries,screen_factor,docs_full,reachable,speedup_lowest\n";
    for (const auto& p : points) {
        out << fmt::format("{},{},{:.2f},{},{},{},{:.4f},{:.1f},{:.1f},{:.1f},{:.0f},{:.4g},{:.0f},{},{:.2f},{:.0f},{:.4f},{:.4g}\n",
                           p.method, p.query_cut, p.heap_factor, p.knn, p.first_sorted ? 1 : 0, o.k, p.recall,
                           p.latency.mean, p.latency.p50, p.latency.p99, p.latency.mean > 0 ? 1e6 / p.latency.mean : 0.0,
                           p.speedup, p.docs_scored, p.screen_entries, p.screen_factor, p.docs_full, p.reachable,
                           p.speedup_lowest);
    }
    ensure(out.good(), "cannot write {} (disk full?)", path);
}

/// `series`: the gnuplot plot command's body (the CSV is '{0}').
void write_plot(const std::string& csv, const std::string& png, const std::string& title, std::size_t k,
                const std::string& series) {
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
           << fmt::format(fmt::runtime(series), csv);
    }
    const auto cmd = fmt::format("gnuplot '{}' 2>&1", script);
    const int rc = std::system(cmd.c_str());
    ensure(rc == 0, "gnuplot failed ({}); the CSV {} is complete", rc, csv);
    std::filesystem::remove(script);
}

const char* const kSparseSeries =
    "plot '{0}' using (strcol(1) eq \"seismic\" && $14 == 0 ? $7 : 1/0):8 with points pt 7 ps 0.8 "
    "title 'Seismic (query_cut x heap_factor grid)', \\\n"
    "     '{0}' using (strcol(1) eq \"seismic\" && $14 > 0 ? $7 : 1/0):8 with points pt 9 ps 0.8 "
    "title 'Seismic, screening documents', \\\n"
    "     '{0}' using (strcol(1) eq \"exact\" ? $7 : 1/0):8 with points pt 5 ps 1.5 title 'exact search'\n";
const char* const kDenseSeries =
    "plot '{0}' using (strcol(1) ne \"exact\" ? $5 : 1/0):6 with linespoints pt 7 ps 0.8 title 'FAISS (ef_search / nprobe sweep)', \\\n"
    "     '{0}' using (strcol(1) eq \"exact\" ? $5 : 1/0):6 with points pt 5 ps 1.5 title 'exact search'\n";

void write_dense_csv(const std::string& path, const std::vector<dense::SweepPoint>& points, std::size_t k) {
    std::ofstream out(path);
    ensure(out.good(), "cannot write {}", path);
    out << "method,ef_search,nprobe,k,recall,mean_us,p50_us,p99_us,qps_1thread,qps_batch,speedup_vs_exact,speedup_lowest\n";
    for (const auto& p : points) {
        out << fmt::format("{},{},{},{},{:.4f},{:.1f},{:.1f},{:.1f},{:.0f},{:.0f},{:.4g},{:.4g}\n", p.method, p.ef_search, p.nprobe,
                           k, p.recall, p.latency.mean, p.latency.p50, p.latency.p99,
                           p.latency.mean > 0 ? 1e6 / p.latency.mean : 0.0, p.qps_batch, p.speedup, p.speedup_lowest);
    }
    ensure(out.good(), "cannot write {} (disk full?)", path);
}

void run_dense_bench(const BenchOptions& o) {
    CorpusParts parts;
    parts.docs = false;  // exact search runs over the shards' stored vectors
    parts.sparse = false;
    parts.ids = false;
    parts.vocab = false;
    const auto corpus = read_corpus(o.corpus, parts);
    ensure<InputError>(corpus.query_dense.has_value(), "{}: no dense queries", o.corpus);
    const auto index = LocalIndex::open(o.index);
    const auto points = dense::run_sweep(index, *corpus.query_dense, o.dense);
    fmt::print("{:<10} {:>5} {:>6} {:>8} {:>10} {:>10} {:>10} {:>9} {:>10} {:>8} {:>8}\n", "method", "ef", "nprobe", "recall",
               "mean_us", "p50_us", "p99_us", "qps_1t", "qps_batch", "speedup", "lowest");
    for (const auto& p : points) {
        fmt::print("{:<10} {:>5} {:>6} {:>8.4f} {:>10.1f} {:>10.1f} {:>10.1f} {:>9.0f} {:>10.0f} {:>7.4g}x {:>7.4g}x\n", p.method,
                   p.ef_search, p.nprobe, p.recall, p.latency.mean, p.latency.p50, p.latency.p99,
                   p.latency.mean > 0 ? 1e6 / p.latency.mean : 0.0, p.qps_batch, p.speedup, p.speedup_lowest);
    }
    if (!o.csv.empty()) {
        write_dense_csv(o.csv, points, o.dense.k);
        if (!o.plot.empty()) {
            write_plot(o.csv, o.plot, o.title.empty() ? "Aftershock FAISS shards vs exact" : o.title, o.dense.k, kDenseSeries);
        }
    }
}

void run_bench(const BenchOptions& o) {
    if (o.mode == "dense") return run_dense_bench(o);
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
    fmt::print("{:<8} {:>4} {:>5} {:>4} {:>6} {:>8} {:>10} {:>10} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8}\n", "method", "qc",
               "hf", "knn", "screen", "recall", "mean_us", "p50_us", "p99_us", "speedup", "lowest", "scored", "full", "reach");
    for (const auto& p : points) {
        fmt::print("{:<8} {:>4} {:>5.2f} {:>4} {:>6} {:>8.4f} {:>10.1f} {:>10.1f} {:>10.1f} {:>8.4g}x {:>7.4g}x {:>8.0f} {:>8.0f} "
                   "{:>8.4f}\n",
                   p.method, p.query_cut, p.heap_factor, p.knn, p.screen_entries, p.recall, p.latency.mean, p.latency.p50,
                   p.latency.p99, p.speedup, p.speedup_lowest, p.docs_scored, p.docs_full, p.reachable);
    }
    if (!o.csv.empty()) {
        write_csv(o.csv, points, o.sweep);
        if (!o.plot.empty()) {
            write_plot(o.csv, o.plot, o.title.empty() ? "Aftershock Seismic vs exact" : o.title, o.sweep.k, kSparseSeries);
        }
    }
}

}  // namespace

void register_bench(CLI::App& app) {
    auto opts = std::make_shared<BenchOptions>();
    auto* sub = app.add_subcommand("bench", "recall vs latency sweep of Seismic (sparse) or FAISS (dense) parameters, exact "
                                            "baseline in the same run");
    sub->add_option("--mode", opts->mode, "sparse | dense")->capture_default_str()->check(CLI::IsMember({"sparse", "dense"}));
    sub->add_option("--index", opts->index, "index directory")->required()->check(CLI::ExistingDirectory);
    sub->add_option("--corpus", opts->corpus, "the corpus the index was built from (documents and queries)")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--k", opts->sweep.k, "neighbours")->capture_default_str()->check(CLI::Range(1, 10000));
    sub->add_option("--ef-search", opts->dense.ef_searches, "dense HNSW: ef_search values")->delimiter(',')->capture_default_str();
    sub->add_option("--nprobe", opts->dense.nprobes, "dense IVF: nprobe values")->delimiter(',')->capture_default_str();
    sub->add_option("--batch-threads", opts->dense.batch_threads, "dense: threads of the batched QPS call (0 = all cores)")
        ->capture_default_str();
    sub->add_option("--query-cuts", opts->sweep.query_cuts, "query_cut values")->delimiter(',')->capture_default_str();
    sub->add_option("--heap-factors", opts->sweep.heap_factors, "heap_factor values")->delimiter(',')->capture_default_str();
    sub->add_option("--knn", opts->sweep.knns, "kNN refinement values (0 = off; default: all the index's graph holds)")
        ->delimiter(',');
    sub->add_flag("--first-sorted", opts->sweep.first_sorted, "visit the first list's blocks by summary score");
    sub->add_option("--screen-entries", opts->sweep.screen_entries,
                    "screening prefix lengths (0 = off); each point is run with each, side by side")
        ->delimiter(',')
        ->capture_default_str();
    sub->add_option("--screen-factor", opts->sweep.screen_factor, "drop a document whose prefix scores below this x theta")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 100.0));
    sub->add_option("--prefix-lead", opts->sweep.prefix_lead,
                    "screening: request prefixes N documents ahead of the one screened (0 = a block at a time)")
        ->capture_default_str()
        ->check(CLI::Range(0U, 100000U));
    sub->add_option("--max-queries", opts->sweep.max_queries, "use only the first N queries (0 = all)")->capture_default_str();
    sub->add_option("--runs", opts->sweep.runs,
                    "rounds, each timing exact search and every point once: latencies are the median round's, speedups "
                    "the median (and lowest) of the per-round ratios")
        ->capture_default_str();
    sub->add_option("--csv", opts->csv, "write the points as CSV");
    sub->add_option("--plot", opts->plot, "write a PNG plot (needs --csv and gnuplot)");
    sub->add_option("--title", opts->title, "plot title");
    sub->callback([opts] {
        // One set of shared flags for both modes.
        opts->dense.k = opts->sweep.k;
        opts->dense.max_queries = opts->sweep.max_queries;
        opts->dense.runs = opts->sweep.runs;
        run_bench(*opts);
    });
}

}  // namespace aftershock::cli
