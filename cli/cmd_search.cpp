// aftershock search: local batch search over a corpus's queries (no servers); TSV run out, latency summary
// on stderr.
#include "commands.hpp"
#include "search_pipeline.hpp"

#include "aftershock/common/error.hpp"
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/fusion.hpp"
#include "aftershock/common/groundtruth.hpp"
#include "aftershock/common/index_dir.hpp"
#include "aftershock/common/latency.hpp"
#include "aftershock/common/import/text_collections.hpp"
#include "aftershock/common/parallel.hpp"
#include "aftershock/common/text/query_encoder.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

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
    std::vector<std::string> text;  ///< free-text queries (ids 0..n-1)
    std::string text_file;          ///< topics file (any layout of import/text_collections.hpp)
    std::string text_mode = "bm25";
    dense::SearchParams dense;
    // Hybrid: each route retrieves `candidates` global hits, fused as the coordinator fuses them.
    std::uint32_t candidates = 100;
    FusionParams fusion;
    double w_sparse = 1.0;
    double w_dense = 1.0;
    PipelineFlags pipeline;  ///< rerank / prf (issue 9)
    std::string dense_store = "memory";
};

/// Text queries encoded with the index's or the corpus' vocabulary; empty if none were given.
struct TextQueries {
    std::vector<std::string> ids;
    CsrMatrix rows;
};

TextQueries encode_text_queries(const SearchOptions& o) {
    TextQueries out;
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < o.text.size(); ++i) {
        out.ids.push_back(std::to_string(i));
        texts.push_back(o.text[i]);
    }
    if (!o.text_file.empty()) {
        read_text_collection(o.text_file, Side::queries, [&](TextRecord&& r) {
            out.ids.push_back(std::move(r.id));
            texts.push_back(std::move(r.text));
        });
    }
    const auto encoder = o.exact ? text::QueryEncoder::from_corpus(o.corpus) : text::QueryEncoder::from_index(o.index);
    out.rows = encoder.encode_batch(texts, out.ids, text::parse_query_mode(o.text_mode));
    return out;
}

/// Writes the run (external ids) and prints the latency summary line on stderr.
template <typename Results, typename QueryId, typename DocId>
void write_run(const SearchOptions& o, QueryId&& query_id, const Results& results, DocId&& doc_id,
               const std::vector<double>& latencies, unsigned threads) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(o.out.c_str(), "w"), &std::fclose);
    ensure(file != nullptr, "cannot write {}", o.out);
    for (std::size_t q = 0; q < results.size(); ++q) {
        const auto qid = query_id(q);
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

/// Hybrid search: the sparse and the dense route each retrieve max(candidates, k) global hits (index or exact
/// oracle), fused per query with the common fuse() (the coordinator's code path).
void run_hybrid(const SearchOptions& o) {
    ensure<UsageError>(!o.corpus.empty(), "--mode hybrid needs --corpus (its sparse and dense queries)");
    CorpusParts parts;
    parts.vocab = false;
    parts.docs = o.exact;
    const auto corpus = read_corpus(o.corpus, parts);
    ensure<InputError>(corpus.query_sparse && corpus.query_dense, "{}: hybrid search needs sparse and dense queries", o.corpus);
    const auto nq = corpus.query_sparse->n_rows();
    ensure<InputError>(corpus.query_dense->n == nq, "{}: {} sparse but {} dense queries", o.corpus, nq, corpus.query_dense->n);
    const unsigned threads = resolve_threads(o.threads);
    const auto depth = std::max<std::size_t>(o.candidates, o.k);
    std::vector<std::vector<GlobalHit>> sparse;
    std::vector<std::vector<GlobalHit>> dense;
    std::vector<double> lat_sparse;
    std::vector<double> lat_dense;
    std::optional<LocalIndex> index;
    if (!o.exact) {
        index.emplace(LocalIndex::open(o.index));
        auto sp = o.seismic;
        sp.k = depth;
        sparse = index->search_sparse(*corpus.query_sparse, sp, threads, &lat_sparse);
        auto dp = o.dense;
        dp.k = depth;
        dense = index->search_dense(*corpus.query_dense, dp, threads, &lat_dense);
    } else {
        ensure<InputError>(corpus.doc_sparse && corpus.doc_dense, "{}: hybrid --exact needs sparse and dense documents", o.corpus);
        sparse = as_global_hits(SparseExactIndex(*corpus.doc_sparse).search_batch(*corpus.query_sparse, depth, threads, &lat_sparse));
        const DenseExactIndex exact_dense(*corpus.doc_dense);
        dense = as_global_hits(dense_per_query(exact_dense, *corpus.query_dense, depth, threads, lat_dense));
    }
    std::vector<std::vector<GlobalHit>> fused(nq);
    std::vector<double> latencies(nq);
    for (std::size_t q = 0; q < nq; ++q) {
        const std::vector<FusionRoute> routes{{sparse[q], o.w_sparse}, {dense[q], o.w_dense}};
        fused[q] = fuse(routes, o.fusion, o.k);
        latencies[q] = lat_sparse[q] + lat_dense[q];
    }
    const auto doc_id = [&](std::uint64_t d) -> std::string { return index ? index->doc_id(d) : corpus.doc_id(static_cast<DocIndex>(d)); };
    write_run(o, [&](std::size_t q) { return corpus.query_id(q); }, fused, doc_id, latencies, threads);
}

/// rerank / prf over the index: the queries of --mode (hybrid: sparse and dense rows of the corpus; sparse:
/// corpus rows or text; dense: corpus rows) through common/pipeline, as the coordinator runs them.
void run_pipeline_search(const SearchOptions& o) {
    // --exact here means brute-force first rounds over the index's shards (as the workers' exact searches).
    ensure<UsageError>(!o.index.empty(), "rerank and PRF run on an index: pass --index DIR");
    const bool with_text = !o.text.empty() || !o.text_file.empty();
    ensure<UsageError>(!with_text || o.mode == "sparse", "text queries are sparse: use --mode sparse");
    ensure<UsageError>(!o.corpus.empty() || with_text, "--corpus is required (only --text/--text-file can do without)");
    const auto text_queries = with_text ? encode_text_queries(o) : TextQueries{};
    CorpusParts parts;
    parts.sparse = o.mode != "dense";
    parts.dense = o.mode != "sparse";
    parts.vocab = false;
    parts.docs = false;
    parts.queries = !with_text;
    const auto corpus = o.corpus.empty() || with_text ? Corpus{} : read_corpus(o.corpus, parts);
    const CsrMatrix* sparse = nullptr;
    const DenseMatrix* dense = nullptr;
    if (o.mode != "dense") {
        ensure<InputError>(with_text || corpus.query_sparse.has_value(), "{}: no sparse queries", o.corpus);
        sparse = with_text ? &text_queries.rows : &*corpus.query_sparse;
    }
    if (o.mode != "sparse") {
        ensure<InputError>(corpus.query_dense.has_value(), "{}: no dense queries", o.corpus);
        dense = &*corpus.query_dense;
    }
    const auto index = LocalIndex::open(o.index, parse_dense_store_mode(o.dense_store));
    const unsigned threads = resolve_threads(o.threads);
    std::vector<double> latencies;
    const auto results = run_pipeline_queries(index, sparse, dense, static_cast<std::uint32_t>(o.k), o.pipeline, o.seismic,
                                              o.dense, o.exact, threads, latencies);
    const auto query_id = [&](std::size_t q) { return with_text ? text_queries.ids[q] : corpus.query_id(q); };
    write_run(o, query_id, results, [&](std::uint64_t d) -> const std::string& { return index.doc_id(d); }, latencies, threads);
}

void run_search(const SearchOptions& o) {
    if (o.pipeline.active()) {
        run_pipeline_search(o);
        return;
    }
    if (o.mode == "hybrid") {
        ensure<UsageError>(o.text.empty() && o.text_file.empty(), "text queries are sparse: --mode hybrid does not apply");
        ensure<UsageError>(o.exact || !o.index.empty(), "pass --index DIR for index search, or --exact for the exact oracle");
        run_hybrid(o);
        return;
    }
    ensure<UsageError>(o.exact || !o.index.empty(), "pass --index DIR for index search, or --exact for the exact oracle");
    const bool with_text = !o.text.empty() || !o.text_file.empty();
    ensure<UsageError>(!o.corpus.empty() || (with_text && !o.exact),
                       "--corpus is required (only --index with --text/--text-file can do without)");
    const auto mode = parse_search_mode(o.mode);
    ensure<UsageError>(!with_text || mode == SearchMode::sparse, "text queries are sparse: --mode dense does not apply");
    const unsigned threads = resolve_threads(o.threads);
    const auto text_queries = with_text ? encode_text_queries(o) : TextQueries{};
    CorpusParts parts;
    parts.sparse = mode == SearchMode::sparse;
    parts.dense = mode == SearchMode::dense;
    parts.vocab = false;
    parts.docs = o.exact;  // an index search needs only the queries
    parts.queries = !with_text;
    const auto corpus = o.corpus.empty() ? Corpus{} : read_corpus(o.corpus, parts);
    const auto query_id = [&](std::size_t q) { return with_text ? text_queries.ids[q] : corpus.query_id(q); };
    std::vector<double> latencies;
    if (!o.exact) {
        const auto index = LocalIndex::open(o.index);
        std::vector<std::vector<GlobalHit>> results;
        if (mode == SearchMode::sparse) {
            ensure<InputError>(with_text || corpus.query_sparse.has_value(), "{}: no sparse queries", o.corpus);
            auto params = o.seismic;
            params.k = o.k;
            const auto& queries = with_text ? text_queries.rows : *corpus.query_sparse;
            results = index.search_sparse(queries, params, threads, &latencies);
        } else {
            ensure<InputError>(corpus.query_dense.has_value(), "{}: no dense queries", o.corpus);
            auto params = o.dense;
            params.k = o.k;
            results = index.search_dense(*corpus.query_dense, params, threads, &latencies);
        }
        write_run(o, query_id, results, [&](std::uint64_t d) -> const std::string& { return index.doc_id(d); }, latencies, threads);
        return;
    }
    std::vector<std::vector<Hit>> results;
    if (mode == SearchMode::sparse) {
        ensure<InputError>(corpus.doc_sparse && (with_text || corpus.query_sparse), "{}: no sparse documents and queries",
                           o.corpus);
        const SparseExactIndex index(*corpus.doc_sparse);
        results = index.search_batch(with_text ? text_queries.rows : *corpus.query_sparse, o.k, threads, &latencies);
    } else {
        ensure<InputError>(corpus.doc_dense && corpus.query_dense, "{}: no dense documents and queries", o.corpus);
        const DenseExactIndex index(*corpus.doc_dense);
        results = dense_per_query(index, *corpus.query_dense, o.k, threads, latencies);
    }
    write_run(o, query_id, results, [&](DocIndex d) { return corpus.doc_id(d); }, latencies, threads);
}

}  // namespace

void register_search(CLI::App& app) {
    auto opts = std::make_shared<SearchOptions>();
    auto* sub = app.add_subcommand("search", "search every query of a corpus (or text queries) locally, write a TSV run");
    sub->add_option("--corpus", opts->corpus, "corpus HDF5 file with documents and queries (not needed for --index with --text)")
        ->check(CLI::ExistingFile);
    sub->add_option("--text", opts->text, "free-text query (repeatable; query ids 0, 1, ...), encoded with the index's "
                                          "vocab.h5 (or the corpus' /vocab with --exact)");
    sub->add_option("--text-file", opts->text_file, "topics file of text queries (TREC <DOC>/<top>, Cranfield, JSONL, id<TAB>text)")
        ->check(CLI::ExistingFile);
    sub->add_option("--text-mode", opts->text_mode, "text query weights: bm25 (token counts) | idf (idf per distinct token)")
        ->capture_default_str()
        ->check(CLI::IsMember({"bm25", "idf"}));
    sub->add_option("--index", opts->index, "index directory built by aftershock-build (Seismic or FAISS search)")
        ->check(CLI::ExistingDirectory);
    sub->add_option("--out", opts->out, "run file: qid<TAB>docid<TAB>rank<TAB>score")->required();
    sub->add_option("--query-cut", opts->seismic.query_cut, "Seismic: lists of the largest query components walked")
        ->capture_default_str();
    sub->add_option("--heap-factor", opts->seismic.heap_factor, "Seismic: skip blocks scoring below heap_factor * theta")
        ->capture_default_str();
    sub->add_option("--knn", opts->seismic.knn,
                    "Seismic: kNN-graph neighbours per result (0 = off; default: all the index's graph holds)");
    sub->add_flag("--first-sorted", opts->seismic.first_sorted, "Seismic: first list's blocks by decreasing summary score");
    sub->add_option("--screen-entries", opts->seismic.screen_entries,
                    "Seismic: score a document on its heaviest N entries first (0 = off)")
        ->capture_default_str();
    sub->add_option("--screen-factor", opts->seismic.screen_factor,
                    "Seismic: drop a document whose prefix scores below screen_factor * theta")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 100.0));
    sub->add_option("--prefix-lead", opts->seismic.prefix_lead,
                    "Seismic: request screening prefixes N documents ahead of the one screened (0 = a block at a time; "
                    "the same hits)")
        ->capture_default_str()
        ->check(CLI::Range(0U, 100000U));
    sub->add_option("--ef-search", opts->dense.ef_search, "dense HNSW: candidate list (raised to k)")->capture_default_str();
    sub->add_option("--nprobe", opts->dense.nprobe, "dense IVF: lists visited")->capture_default_str();
    sub->add_option("--k", opts->k, "results per query")->capture_default_str()->check(CLI::Range(1, 100000));
    sub->add_flag("--exact", opts->exact, "exact search (the oracle)");
    sub->add_option("--mode", opts->mode, "sparse | dense | hybrid")->capture_default_str()->check(CLI::IsMember({"sparse", "dense", "hybrid"}));
    sub->add_option("--candidates", opts->candidates, "hybrid: hits per route before fusion (at least k)")->capture_default_str();
    sub->add_option_function<std::string>("--fusion", [opts](const std::string& v) { opts->fusion.method = parse_fusion_method(v); },
                                          "hybrid: rrf | linear (default rrf)");
    sub->add_option("--rank-constant", opts->fusion.rank_constant, "hybrid RRF rank constant")->capture_default_str();
    sub->add_option_function<std::string>("--normalization", [opts](const std::string& v) { opts->fusion.normalization = parse_normalization(v); },
                                          "hybrid linear: none | minmax | zscore (default minmax)");
    sub->add_option("--w-sparse", opts->w_sparse, "hybrid: weight of the sparse route")->capture_default_str();
    sub->add_option("--w-dense", opts->w_dense, "hybrid: weight of the dense route")->capture_default_str();
    sub->add_option("--threads", opts->threads, "query threads (0 = all cores)")->capture_default_str();
    add_pipeline_flags(*sub, std::shared_ptr<PipelineFlags>(opts, &opts->pipeline));
    sub->add_option("--dense-store", opts->dense_store, "rerank/PRF: memory | disk (dense rows read from the shard files)")
        ->capture_default_str()
        ->check(CLI::IsMember({"memory", "disk"}));
    sub->callback([opts] { run_search(*opts); });
}

}  // namespace aftershock::cli
