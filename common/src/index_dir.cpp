#include "aftershock/common/index_dir.hpp"

#include "aftershock/common/checksum.hpp"
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/parallel.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace aftershock {

namespace {

nlohmann::ordered_json record_json(const ShardRecord& s) {
    return {{"shard", s.shard}, {"file", s.file}, {"doc_begin", s.doc_begin}, {"doc_end", s.doc_end},
            {"n_docs", s.doc_end - s.doc_begin}, {"nnz", s.nnz}, {"bytes", s.bytes}, {"postings", s.postings},
            {"blocks", s.blocks}, {"sha256", s.sha256}, {"checksum", s.checksum},
            {"input_checksum", s.input_checksum}, {"build_seconds", s.build_seconds}, {"resumed", s.resumed}};
}

ShardRecord record_from(const nlohmann::json& s) {
    ShardRecord r;
    r.shard = s.at("shard").get<std::uint32_t>();
    r.file = s.at("file").get<std::string>();
    r.doc_begin = s.at("doc_begin").get<std::uint64_t>();
    r.doc_end = s.at("doc_end").get<std::uint64_t>();
    r.nnz = s.value("nnz", std::uint64_t{0});
    r.bytes = s.value("bytes", std::uint64_t{0});
    r.postings = s.value("postings", std::uint64_t{0});
    r.blocks = s.value("blocks", std::uint64_t{0});
    r.sha256 = s.at("sha256").get<std::string>();
    r.checksum = s.value("checksum", "");
    r.input_checksum = s.value("input_checksum", "");
    r.build_seconds = s.value("build_seconds", 0.0);
    r.resumed = s.value("resumed", false);
    return r;
}

}  // namespace

std::string records_to_json(const std::vector<ShardRecord>& records) {
    auto j = nlohmann::ordered_json::array();
    for (const auto& r : records) j.push_back(record_json(r));
    return j.dump();
}

std::vector<ShardRecord> records_from_json(const std::string& text, const std::string& source) {
    std::vector<ShardRecord> out;
    try {
        for (const auto& r : nlohmann::json::parse(text)) out.push_back(record_from(r));
    } catch (const nlohmann::json::exception& e) {
        throw InputError(fmt::format("{}: malformed shard records: {}", source, e.what()));
    }
    return out;
}

std::string to_json(const Manifest& m) {
    nlohmann::ordered_json j;
    j["format"] = "aftershock-index";
    j["format_version"] = m.format_version;
    j["corpus"] = {{"path", m.corpus}, {"checksum", m.corpus_checksum}, {"n_docs", m.n_docs}, {"dim", m.dim}};
    j["n_docs"] = m.n_docs;
    j["n_shards"] = m.n_shards;
    j["build_params"] = nlohmann::ordered_json::parse(m.build_params.empty() ? "{}" : m.build_params);
    auto& shards = j["shards"] = nlohmann::ordered_json::array();
    for (const auto& s : m.shards) shards.push_back(record_json(s));
    j["build"] = nlohmann::ordered_json::parse(m.build_stats.empty() ? "{}" : m.build_stats);
    return j.dump(2) + "\n";
}

Manifest parse_manifest(const std::string& text, const std::string& source) {
    Manifest m;
    try {
        const auto j = nlohmann::json::parse(text);
        ensure<InputError>(j.value("format", "") == "aftershock-index", "{}: not an Aftershock index manifest", source);
        m.format_version = j.at("format_version").get<std::uint64_t>();
        ensure<InputError>(m.format_version == kManifestFormatVersion, "{}: manifest format version {} is not supported",
                           source, m.format_version);
        m.corpus = j.at("corpus").at("path").get<std::string>();
        m.corpus_checksum = j.at("corpus").at("checksum").get<std::string>();
        m.dim = j.at("corpus").at("dim").get<std::uint64_t>();
        m.n_docs = j.at("n_docs").get<std::uint64_t>();
        m.n_shards = j.at("n_shards").get<std::uint32_t>();
        m.build_params = j.at("build_params").dump();
        m.build_stats = j.contains("build") ? j["build"].dump() : "{}";
        std::uint64_t expected_begin = 0;
        for (const auto& s : j.at("shards")) {
            auto r = record_from(s);
            ensure<InputError>(r.shard == m.shards.size() && r.doc_begin == expected_begin && r.doc_end >= r.doc_begin,
                               "{}: shard entry {} is out of order or its documents do not follow the previous shard",
                               source, m.shards.size());
            ensure<InputError>(r.file.find('/') == std::string::npos, "{}: shard {} file '{}' must be a plain name",
                               source, r.shard, r.file);
            expected_begin = r.doc_end;
            m.shards.push_back(std::move(r));
        }
        ensure<InputError>(m.shards.size() == m.n_shards && expected_begin == m.n_docs,
                           "{}: {} shard entries covering {} docs, expected {} shards covering {}", source,
                           m.shards.size(), expected_begin, m.n_shards, m.n_docs);
    } catch (const nlohmann::json::exception& e) {
        throw InputError(fmt::format("{}: malformed manifest: {}", source, e.what()));
    }
    return m;
}

Manifest read_manifest(const std::string& dir) {
    const auto path = (std::filesystem::path(dir) / "manifest.json").string();
    std::ifstream in(path);
    ensure<InputError>(in.good(), "{}: no manifest (not an index directory, or its build did not finish)", path);
    std::stringstream buf;
    buf << in.rdbuf();
    return parse_manifest(buf.str(), path);
}

void write_manifest(const std::string& dir, const Manifest& m) {
    const auto path = (std::filesystem::path(dir) / "manifest.json").string();
    const auto tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << to_json(m);
        out.flush();
        ensure(out.good(), "cannot write {} (disk full?)", tmp);
    }
    std::filesystem::rename(tmp, path);
}

std::vector<std::uint64_t> plan_shards(const h5::File& corpus, std::uint32_t n_shards) {
    ensure<UsageError>(n_shards > 0, "the shard count must be positive");
    const auto info = describe_corpus(corpus);
    std::vector<std::uint64_t> bounds(n_shards + 1, info.n_docs);
    bounds[0] = 0;
    if (!info.docs_sparse || info.doc_nnz == 0) {
        for (std::uint32_t s = 1; s < n_shards; ++s) bounds[s] = info.n_docs * s / n_shards;
        return bounds;
    }
    const auto indptr_at = [&](std::uint64_t row) { return corpus.read<std::uint64_t>("/docs/sparse/indptr", row, row + 1)[0]; };
    for (std::uint32_t s = 1; s < n_shards; ++s) {
        // First row whose starting offset reaches s/n of the nonzeros: binary search on the file.
        const std::uint64_t target = info.doc_nnz * s / n_shards;
        std::uint64_t lo = bounds[s - 1];
        std::uint64_t hi = info.n_docs;
        while (lo < hi) {
            const auto mid = lo + (hi - lo) / 2;
            if (indptr_at(mid) < target) lo = mid + 1;
            else hi = mid;
        }
        bounds[s] = lo;
    }
    return bounds;
}

Shard load_verified_shard(const std::string& dir, const ShardRecord& r, DenseStoreMode dense_store, IndexUse use) {
    const auto path = (std::filesystem::path(dir) / r.file).string();
    ensure<InputError>(std::filesystem::exists(path), "{}: shard {} listed in the manifest is missing", path, r.shard);
    const auto sha = sha256_file(path);
    ensure<InputError>(sha == r.sha256, "{}: SHA-256 {} does not match the manifest's {} (corrupt or replaced file)",
                       path, sha, r.sha256);
    auto shard = read_shard(path, dense_store);
    ensure<InputError>(shard.meta.shard == r.shard && shard.meta.doc_begin == r.doc_begin && shard.meta.doc_end == r.doc_end,
                       "{}: shard metadata disagrees with the manifest", path);
    if (use == IndexUse::queries && shard.sparse) shard.sparse->prepare_for_queries();
    return shard;
}

LocalIndex LocalIndex::open(const std::string& dir, DenseStoreMode dense_store, IndexUse use) {
    LocalIndex idx;
    idx.m_manifest = read_manifest(dir);
    for (const auto& r : idx.m_manifest.shards) idx.m_shards.push_back(load_verified_shard(dir, r, dense_store, use));
    spdlog::info("index {}: {} shards, {} documents", dir, idx.m_shards.size(), idx.m_manifest.n_docs);
    return idx;
}

const std::string& LocalIndex::doc_id(std::uint64_t global) const {
    const auto it = std::upper_bound(m_shards.begin(), m_shards.end(), global,
                                     [](std::uint64_t g, const Shard& s) { return g < s.meta.doc_end; });
    ensure(it != m_shards.end(), "document {} is past the index's {} documents", global, m_manifest.n_docs);
    return it->ids[global - it->meta.doc_begin];
}

std::vector<std::vector<GlobalHit>> LocalIndex::search_sparse(const CsrMatrix& queries, const seismic::SearchParams& params,
                                                              unsigned threads, std::vector<double>* latencies_us,
                                                              seismic::SearchStats* total) const {
    validate(params);
    for (const auto& s : m_shards) ensure<InputError>(s.sparse.has_value(), "shard {} has no sparse index", s.meta.shard);
    std::vector<std::vector<GlobalHit>> out(queries.n_rows());
    if (latencies_us != nullptr) latencies_us->assign(queries.n_rows(), 0.0);
    const unsigned n_threads = resolve_threads(threads);
    std::vector<seismic::SearchScratch> scratch(n_threads);
    std::vector<seismic::SearchStats> stats(n_threads);
    parallel_for(queries.n_rows(), n_threads, 4, [&](unsigned t, std::size_t begin, std::size_t end) {
        std::vector<std::vector<GlobalHit>> per_shard(m_shards.size());
        for (auto q = begin; q < end; ++q) {
            const auto start = std::chrono::steady_clock::now();
            for (std::size_t s = 0; s < m_shards.size(); ++s) {
                seismic::SearchStats st;
                const auto hits = m_shards[s].sparse->search(queries.row(q), params, scratch[t], &st);
                stats[t] += st;
                per_shard[s].clear();
                for (const auto& h : hits) per_shard[s].push_back({m_shards[s].meta.doc_begin + h.doc, h.score});
            }
            out[q] = merge_topk(per_shard, params.k);
            if (latencies_us != nullptr) {
                (*latencies_us)[q] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
            }
        }
    });
    if (total != nullptr) {
        *total = {};
        for (const auto& st : stats) *total += st;
    }
    return out;
}

std::vector<std::vector<GlobalHit>> LocalIndex::reachable_sparse(const CsrMatrix& queries,
                                                                 const std::vector<std::vector<GlobalHit>>& truth,
                                                                 std::uint32_t query_cut, std::size_t k) const {
    ensure(truth.size() == queries.n_rows(), "reachable: {} truth lists for {} queries", truth.size(), queries.n_rows());
    for (const auto& s : m_shards) ensure<InputError>(s.sparse.has_value(), "shard {} has no sparse index", s.meta.shard);
    std::vector<std::vector<GlobalHit>> out(truth.size());
    std::vector<DocIndex> local;
    std::unordered_set<std::uint64_t> found;
    for (std::size_t q = 0; q < truth.size(); ++q) {
        const auto n = std::min(k, truth[q].size());
        found.clear();
        for (const auto& s : m_shards) {
            local.clear();
            for (std::size_t i = 0; i < n; ++i) {
                const auto d = truth[q][i].doc;
                if (d >= s.meta.doc_begin && d < s.meta.doc_end) local.push_back(static_cast<DocIndex>(d - s.meta.doc_begin));
            }
            if (local.empty()) continue;
            for (const auto d : s.sparse->reachable(queries.row(q), query_cut, local)) found.insert(s.meta.doc_begin + d);
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (found.erase(truth[q][i].doc) > 0) out[q].push_back(truth[q][i]);
        }
    }
    return out;
}

const DenseExactIndex& LocalIndex::dense_exact(std::size_t s) const {
    const std::lock_guard lock(*m_dense_exact_mutex);
    if (m_dense_exact.size() != m_shards.size()) m_dense_exact.resize(m_shards.size());
    ensure<InputError>(!m_shards[s].dense->disk, "shard {}: exact dense search needs the vectors in memory (dense store is disk)",
                       m_shards[s].meta.shard);
    if (!m_dense_exact[s]) m_dense_exact[s] = std::make_shared<const DenseExactIndex>(m_shards[s].dense->vectors);
    return *m_dense_exact[s];
}

template <typename PerQuery, typename Batch>
std::vector<std::vector<GlobalHit>> LocalIndex::search_dense_with(const DenseMatrix& queries, std::size_t k,
                                                                  unsigned threads, std::vector<double>* latencies_us,
                                                                  PerQuery&& per_query, Batch&& batch) const {
    for (const auto& s : m_shards) {
        ensure<InputError>(s.dense.has_value(), "shard {} has no dense part (the corpus had no /docs/dense)", s.meta.shard);
        ensure<InputError>(queries.d == s.dense->vectors.d, "query dimension {} does not match the index's {}", queries.d,
                           s.dense->vectors.d);
    }
    const auto to_global = [&](std::size_t s, const std::vector<Hit>& hits, std::vector<GlobalHit>& out) {
        out.clear();
        for (const auto& h : hits) out.push_back({m_shards[s].meta.doc_begin + h.doc, h.score});
    };
    std::vector<std::vector<GlobalHit>> out(queries.n);
    if (latencies_us == nullptr) {
        // Batched: one call per shard for every query, then one merge per query.
        std::vector<std::vector<std::vector<GlobalHit>>> per_shard(m_shards.size());
        for (std::size_t s = 0; s < m_shards.size(); ++s) {
            const auto hits = batch(s);
            per_shard[s].resize(queries.n);
            for (std::size_t q = 0; q < queries.n; ++q) to_global(s, hits[q], per_shard[s][q]);
        }
        std::vector<std::vector<GlobalHit>> lists(m_shards.size());
        for (std::size_t q = 0; q < queries.n; ++q) {
            for (std::size_t s = 0; s < m_shards.size(); ++s) lists[s] = std::move(per_shard[s][q]);
            out[q] = merge_topk(lists, k);
        }
        return out;
    }
    latencies_us->assign(queries.n, 0.0);
    parallel_for(queries.n, resolve_threads(threads), 4, [&](unsigned, std::size_t begin, std::size_t end) {
        std::vector<std::vector<GlobalHit>> lists(m_shards.size());
        for (auto q = begin; q < end; ++q) {
            const auto start = std::chrono::steady_clock::now();
            for (std::size_t s = 0; s < m_shards.size(); ++s) to_global(s, per_query(s, queries.row(q)), lists[s]);
            out[q] = merge_topk(lists, k);
            (*latencies_us)[q] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
        }
    });
    return out;
}

std::vector<std::vector<GlobalHit>> LocalIndex::search_dense(const DenseMatrix& queries, const dense::SearchParams& params,
                                                             unsigned threads, std::vector<double>* latencies_us) const {
    dense::validate(params);
    // A shard stored without an index (type none) is searched exactly over its vectors, and so is a flat one:
    // same answer, but our BLAS path is 2-10x faster per query than Debian FAISS's scalar flat loop.
    const auto exact_for = [&](std::size_t s) { return serves_dense_exactly(*m_shards[s].dense); };
    return search_dense_with(
        queries, params.k, threads, latencies_us,
        [&](std::size_t s, std::span<const float> q) {
            return exact_for(s) ? dense_exact(s).search(q, params.k) : m_shards[s].dense->index->search_one(q, params);
        },
        [&](std::size_t s) {
            return exact_for(s) ? dense_exact(s).search_batch(queries, params.k, threads)
                                : m_shards[s].dense->index->search(queries, params, threads);
        });
}

std::vector<std::vector<GlobalHit>> LocalIndex::search_dense_exact(const DenseMatrix& queries, std::size_t k,
                                                                   unsigned threads, std::vector<double>* latencies_us) const {
    ensure<UsageError>(k > 0, "k must be positive");
    return search_dense_with(
        queries, k, threads, latencies_us, [&](std::size_t s, std::span<const float> q) { return dense_exact(s).search(q, k); },
        [&](std::size_t s) { return dense_exact(s).search_batch(queries, k, threads); });
}

}  // namespace aftershock
