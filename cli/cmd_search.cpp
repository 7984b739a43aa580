// aftershock search: local batch search over a corpus's queries (no servers); TSV run out, latency summary
// on stderr.
#include "commands.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/groundtruth.hpp"
#include "aftershock/common/index_dir.hpp"
#include "aftershock/common/latency.hpp"
#include "aftershock/common/parallel.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <memory>

namespace aftershock::cli {
namespace {

struct SearchOptions {
    std::string corpus;
    std::string index;
    std::string out;
    std::size_t k = 10;
    bool exact = false;
    std::string mode = "sparse";
    unsigned threads = 1;
    seismic::SearchParams seismic;
    dense::SearchParams dense;
};

/// Writes the run (external ids) and prints the latency summary line on stderr.
template <typename Results, typename DocId>
void write_run(const SearchOptions& o, const Corpus& corpus, const Results& results, DocId&& doc_id,
               const std::vector<double>& latencies, unsigned threads) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(o.out.c_str(), "w"), &std::fclose);
    ensure(file != nullptr, "cannot write {}", o.out);
    for (std::size_t q = 0; q < results.size(); ++q) {
        const auto qid = corpus.query_id(q);
        for (std::size_t r = 0; r < results[q].size(); ++r) {
            fmt::print(file.get(), "{}\t{}\t{}\t{:.9g}\n", qid, doc_id(results[q][r].doc), r + 1, results[q][r].score);
        }
    }
    ensure(std::fflush(file.get()) == 0, "cannot write {} (disk full?)", o.out);
    const auto summary = summarize_latencies(latencies);
    fmt::print(stderr, "queries={} mean_us={:.1f} p50_us={:.1f} p99_us={:.1f} threads={}\n", summary.count,
               summary.mean, summary.p50, summary.p99, threads);
}

/// Dense queries one at a time on `threads` threads, so each latency is that of a single query.
std::vector<std::vector<Hit>> dense_per_query(const DenseExactIndex& index, const DenseMatrix& queries, std::size_t k,
                                              unsigned threads, std::vector<double>& latencies_us) {
    std::vector<std::vector<Hit>> out(queries.n);
    latencies_us.assign(queries.n, 0.0);
    parallel_for(queries.n, threads, 1, [&](unsigned, std::size_t begin, std::size_t end) {
        for (auto q = begin; q < end; ++q) {
            const auto start = std::chrono::steady_clock::now();
            out[q] = index.search(queries.row(q), k);
            latencies_us[q] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
        }
    });
    return out;
}

void run_search(const SearchOptions& o) {
    ensure<UsageError>(o.exact || !o.index.empty(), "pass --index DIR for index search, or --exact for the exact oracle");
    const auto mode = parse_search_mode(o.mode);
    const unsigned threads = resolve_threads(o.threads);
    CorpusParts parts;
    parts.sparse = mode == SearchMode::sparse;
    parts.dense = mode == SearchMode::dense;
    parts.vocab = false;
    parts.docs = o.exact;  // an index search needs only the queries
    const auto corpus = read_corpus(o.corpus, parts);
    std::vector<double> latencies;
    if (!o.exact) {
        const auto index = LocalIndex::open(o.index);
        std::vector<std::vector<GlobalHit>> results;
        if (mode == SearchMode::sparse) {
            ensure<InputError>(corpus.query_sparse.has_value(), "{}: no sparse queries", o.corpus);
            auto params = o.seismic;
            params.k = o.k;
            results = index.search_sparse(*corpus.query_sparse, params, threads, &latencies);
        } else {
            ensure<InputError>(corpus.query_dense.has_value(), "{}: no dense queries", o.corpus);
            auto params = o.dense;
            params.k = o.k;
            results = index.search_dense(*corpus.query_dense, params, threads, &latencies);
        }
        write_run(o, corpus, results, [&](std::uint64_t d) -> const std::string& { return index.doc_id(d); }, latencies, threads);
        return;
    }
    std::vector<std::vector<Hit>> results;
    if (mode == SearchMode::sparse) {
        ensure<InputError>(corpus.doc_sparse && corpus.query_sparse, "{}: no sparse documents and queries", o.corpus);
        const SparseExactIndex index(*corpus.doc_sparse);
        results = index.search_batch(*corpus.query_sparse, o.k, threads, &latencies);
    } else {
        ensure<InputError>(corpus.doc_dense && corpus.query_dense, "{}: no dense documents and queries", o.corpus);
        const DenseExactIndex index(*corpus.doc_dense);
        results = dense_per_query(index, *corpus.query_dense, o.k, threads, latencies);
    }
    write_run(o, corpus, results, [&](DocIndex d) { return corpus.doc_id(d); }, latencies, threads);
}

}  // namespace

void register_search(CLI::App& app) {
    auto opts = std::make_shared<SearchOptions>();
    auto* sub = app.add_subcommand("search", "search every query of a corpus locally, write a TSV run");
    sub->add_option("--corpus", opts->corpus, "corpus HDF5 file with documents and queries")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--index", opts->index, "index directory built by aftershock-build (Seismic or FAISS search)")
        ->check(CLI::ExistingDirectory);
    sub->add_option("--out", opts->out, "run file: qid<TAB>docid<TAB>rank<TAB>score")->required();
    sub->add_option("--query-cut", opts->seismic.query_cut, "Seismic: lists of the largest query components walked")
        ->capture_default_str();
    sub->add_option("--heap-factor", opts->seismic.heap_factor, "Seismic: skip blocks scoring below heap_factor * theta")
        ->capture_default_str();
    sub->add_option("--knn", opts->seismic.knn, "Seismic: kNN-graph neighbours per result (0 = off)")->capture_default_str();
    sub->add_flag("--first-sorted", opts->seismic.first_sorted, "Seismic: first list's blocks by decreasing summary score");
    sub->add_option("--ef-search", opts->dense.ef_search, "dense HNSW: candidate list (raised to k)")->capture_default_str();
    sub->add_option("--nprobe", opts->dense.nprobe, "dense IVF: lists visited")->capture_default_str();
    sub->add_option("--k", opts->k, "results per query")->capture_default_str()->check(CLI::Range(1, 100000));
    sub->add_flag("--exact", opts->exact, "exact search (the oracle)");
    sub->add_option("--mode", opts->mode, "sparse | dense")->capture_default_str()->check(CLI::IsMember({"sparse", "dense"}));
    sub->add_option("--threads", opts->threads, "query threads (0 = all cores)")->capture_default_str();
    sub->callback([opts] { run_search(*opts); });
}

}  // namespace aftershock::cli
