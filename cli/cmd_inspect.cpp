// aftershock inspect: what a corpus file holds, and (with --verify) a full validation of every row.
#include "commands.hpp"

#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/index_dir.hpp"

#include <spdlog/spdlog.h>

#include <memory>

namespace aftershock::cli {
namespace {

struct InspectOptions {
    std::string corpus;
    std::string index;
    bool verify = false;
};

/// Manifest, per-shard structure and where the bytes go; every shard's SHA-256 and checksum verified.
void inspect_index(const InspectOptions& o) {
    const auto index = LocalIndex::open(o.index, DenseStoreMode::memory, IndexUse::description);
    const auto& m = index.manifest();
    fmt::print("index       {}\n", o.index);
    fmt::print("corpus      {} (checksum {})\n", m.corpus, m.corpus_checksum);
    fmt::print("documents   {} in {} shards, dim {}\n", m.n_docs, m.n_shards, m.dim);
    fmt::print("params      {}\n", m.build_params);
    fmt::print("build       {}\n", m.build_stats);
    seismic::SeismicIndex::Bytes total;
    std::uint64_t nnz = 0;
    std::uint64_t dense_vector_bytes = 0;
    std::uint64_t dense_index_bytes = 0;
    for (std::size_t i = 0; i < index.shards().size(); ++i) {
        const auto& shard = index.shards()[i];
        const auto& r = m.shards[i];
        fmt::print("shard {:5}  docs [{}, {}) file {:.1f} MB sha256 {}...\n", r.shard, r.doc_begin, r.doc_end,
                   double(r.bytes) / 1e6, r.sha256.substr(0, 12));
        if (shard.sparse) {
            const auto& sp = *shard.sparse;
            total += sp.bytes();
            nnz += sp.forward().nnz();
            fmt::print("  sparse    nnz {} postings {} ({:.1f}% of nnz) blocks {} summary entries {} ({:.1f}/block, "
                       "{}-bit codes)\n",
                       sp.forward().nnz(), sp.n_postings(),
                       100.0 * double(sp.n_postings()) / double(std::max<std::uint64_t>(1, sp.forward().nnz())),
                       sp.n_blocks(), sp.arrays().n_entries(),
                       double(sp.arrays().n_entries()) / double(std::max<std::uint64_t>(1, sp.n_blocks())),
                       sp.arrays().code_bits);
            fmt::print("            documents stored {}\n", sp.forward().heaviest_first()
                                                                 ? "heaviest entry first (screening available)"
                                                                 : "in term order (built before screening: searched without it)");
        }
        if (shard.dense) {
            const auto& d = *shard.dense;
            const auto index_bytes = d.index ? d.index->serialize().size() : 0;
            dense_vector_bytes += d.vectors.data.size() * sizeof(float);
            dense_index_bytes += index_bytes;
            fmt::print("  dense     {} x {} {}, index {} {} ({:.1f} MB, {:.1f} B/vector)\n", d.vectors.n, d.vectors.d,
                       to_string(d.vectors.metric), dense::to_string(d.params.type), dense::to_json(d.params),
                       double(index_bytes) / 1e6, double(index_bytes) / double(std::max<std::size_t>(1, d.vectors.n)));
        }
    }
    const auto mb = [](std::uint64_t b) { return double(b) / 1e6; };
    if (total.total() > 0) {
        fmt::print("bytes       forward {:.1f} MB ({:.2f} B/nnz), postings {:.1f} MB, blocks {:.1f} MB, summaries {:.1f} MB, "
                   "knn {:.1f} MB, total {:.1f} MB = {:.2f}x forward\n",
                   mb(total.forward), double(total.forward) / double(std::max<std::uint64_t>(1, nnz)), mb(total.postings),
                   mb(total.blocks), mb(total.summaries), mb(total.knn), mb(total.total()),
                   double(total.total()) / double(std::max<std::uint64_t>(1, total.forward)));
    }
    if (dense_vector_bytes > 0) {
        fmt::print("dense bytes vectors {:.1f} MB, FAISS indexes {:.1f} MB\n", mb(dense_vector_bytes), mb(dense_index_bytes));
    }
    fmt::print("verify      ok: manifest, SHA-256 and content checksums of {} shards\n", index.shards().size());
}

void run_inspect(const InspectOptions& o) {
    ensure<UsageError>(o.corpus.empty() != o.index.empty(), "pass exactly one of --corpus FILE or --index DIR");
    if (!o.index.empty()) return inspect_index(o);
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
    auto* sub = app.add_subcommand("inspect", "describe a corpus file (--verify validates every row) or an index directory");
    sub->add_option("--corpus", opts->corpus, "corpus HDF5 file")->check(CLI::ExistingFile);
    sub->add_option("--index", opts->index, "index directory (manifest and shards are verified)")->check(CLI::ExistingDirectory);
    sub->add_flag("--verify", opts->verify, "load and validate every row");
    sub->callback([opts] { run_inspect(*opts); });
}

}  // namespace aftershock::cli
