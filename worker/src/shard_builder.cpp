#include "aftershock/worker/shard_builder.hpp"

#include "aftershock/common/checksum.hpp"
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

namespace aftershock::worker {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string input_checksum(const std::optional<CsrMatrix>& rows, const std::optional<DenseMatrix>& dense,
                           const std::vector<std::string>& ids) {
    ContentHash h;
    if (rows) {
        h.update(rows->indptr);
        h.update(rows->indices);
        h.update(rows->data);
    }
    if (dense) {
        const std::uint64_t d = dense->d;
        h.update(&d, sizeof d);
        h.update(dense->data);
    }
    for (const auto& id : ids) h.update(id.data(), id.size() + 1);  // with the terminator as separator
    return h.hex();
}

ShardRecord record_of(const Shard& s, const std::string& path, const std::string& checksum, const std::string& input) {
    ShardRecord r;
    r.shard = s.meta.shard;
    r.file = std::filesystem::path(path).filename().string();
    r.doc_begin = s.meta.doc_begin;
    r.doc_end = s.meta.doc_end;
    r.nnz = s.sparse ? s.sparse->forward().nnz() : 0;
    r.postings = s.sparse ? s.sparse->n_postings() : 0;
    r.blocks = s.sparse ? s.sparse->n_blocks() : 0;
    r.bytes = std::filesystem::file_size(path);
    r.sha256 = sha256_file(path);
    r.checksum = checksum;
    r.input_checksum = input;
    return r;
}

}  // namespace

ShardRecord build_shard(const ShardBuildOptions& opt, std::uint32_t shard, std::uint64_t begin, std::uint64_t end,
                        ShardTimings* timings) {
    const auto path = (std::filesystem::path(opt.out_dir) / shard_file_name(shard)).string();
    ShardTimings t;
    try {
        auto t0 = std::chrono::steady_clock::now();
        const h5::File corpus(opt.corpus, h5::File::Mode::read);
        const auto info = describe_corpus(corpus);
        std::optional<CsrMatrix> rows;
        std::optional<DenseMatrix> vectors;
        if (info.docs_sparse) rows = read_sparse_rows(corpus, Side::docs, begin, end);
        if (info.docs_dense) vectors = read_dense_rows(corpus, Side::docs, begin, end);
        ensure<InputError>(rows || vectors, "{}: the corpus has neither sparse nor dense documents", opt.corpus);
        const auto ids = read_ids(corpus, Side::docs, begin, end);
        const auto input = input_checksum(rows, vectors, ids);
        const auto params_json = build_params_json(opt, rows.has_value(), vectors.has_value());
        t.read = seconds_since(t0);
        if (opt.resume && std::filesystem::exists(path)) {
            // Resume: keep a complete shard built from the same rows and parameters.
            try {
                const auto existing = read_shard(path);
                if (existing.meta.doc_begin == begin && existing.meta.doc_end == end &&
                    existing.meta.build_params == params_json && existing.meta.n_shards == opt.n_shards &&
                    existing.ids == ids) {
                    spdlog::info("shard {}: {} is complete and verified, skipped", shard, path);
                    auto r = record_of(existing, path, existing.checksum, input);
                    r.resumed = true;
                    if (timings != nullptr) *timings = t;
                    return r;
                }
                spdlog::info("shard {}: {} was built from other rows or parameters, rebuilding", shard, path);
            } catch (const InputError& e) {
                spdlog::warn("shard {}: existing file unusable ({}), rebuilding", shard, e.what());
            }
        }
        if (opt.test_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opt.test_delay_ms));
        ensure(opt.fail_shard != static_cast<std::int64_t>(shard),
               "injected fault (--fail-shard {}, a test-only flag)", opt.fail_shard);
        t0 = std::chrono::steady_clock::now();
        Shard s;
        s.meta = {shard, opt.n_shards, begin, end, params_json};
        s.ids = ids;
        if (rows) s.sparse = seismic::SeismicIndex::build(*rows, opt.params);
        if (vectors) {
            DenseShard d;
            d.params = dense::resolve(opt.dense, vectors->n, vectors->d);
            const auto td = std::chrono::steady_clock::now();
            if (d.params.type != dense::IndexType::none) d.index = dense::DenseIndex::build(*vectors, d.params);
            spdlog::info("shard {}: dense {} index over {} x {} ({}) in {:.1f} s", shard, dense::to_string(d.params.type),
                         vectors->n, vectors->d, to_string(vectors->metric), seconds_since(td));
            d.vectors = std::move(*vectors);
            s.dense = std::move(d);
        }
        t.build = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        const auto checksum = write_shard(path, s);
        auto r = record_of(s, path, checksum, input);
        t.write = seconds_since(t0);
        r.build_seconds = t.read + t.build + t.write;
        spdlog::info("shard {}: docs [{}, {}), {} nnz, {} postings, {} blocks, {:.1f} MB, {:.1f} s", shard, begin, end,
                     r.nnz, r.postings, r.blocks, double(r.bytes) / 1e6, r.build_seconds);
        if (timings != nullptr) *timings = t;
        return r;
    } catch (const std::exception& e) {
        throw Error(fmt::format("shard {} (docs [{}, {})): {}", shard, begin, end, e.what()));
    }
}

std::string build_params_json(const ShardBuildOptions& opt, bool sparse, bool dense) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (sparse) j["sparse"] = nlohmann::ordered_json::parse(seismic::to_json(opt.params));
    if (dense) j["dense"] = nlohmann::ordered_json::parse(dense::to_json(opt.dense));
    return j.dump();
}

Manifest make_manifest(const ShardBuildOptions& opt, std::vector<ShardRecord> records, std::uint64_t n_docs,
                       std::uint64_t dim, const std::string& build_params, const std::string& build_stats) {
    std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.shard < b.shard; });
    Manifest m;
    m.corpus = opt.corpus;
    ContentHash h;
    for (const auto& r : records) h.update(r.input_checksum.data(), r.input_checksum.size());
    m.corpus_checksum = h.hex();
    m.n_docs = n_docs;
    m.dim = dim;
    m.n_shards = opt.n_shards;
    m.build_params = build_params;
    m.shards = std::move(records);
    m.build_stats = build_stats;
    return m;
}

}  // namespace aftershock::worker
