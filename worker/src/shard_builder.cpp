#include "aftershock/worker/shard_builder.hpp"

#include "aftershock/common/checksum.hpp"
#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"

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

std::string input_checksum(const CsrMatrix& rows, const std::vector<std::string>& ids) {
    ContentHash h;
    h.update(rows.indptr);
    h.update(rows.indices);
    h.update(rows.data);
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
        const auto rows = read_sparse_rows(corpus, Side::docs, begin, end);
        const auto ids = read_ids(corpus, Side::docs, begin, end);
        const auto input = input_checksum(rows, ids);
        const auto params_json = seismic::to_json(opt.params);
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
        s.sparse = seismic::SeismicIndex::build(rows, opt.params);
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

Manifest make_manifest(const ShardBuildOptions& opt, std::vector<ShardRecord> records, std::uint64_t n_docs,
                       std::uint64_t dim, const std::string& build_stats) {
    std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.shard < b.shard; });
    Manifest m;
    m.corpus = opt.corpus;
    ContentHash h;
    for (const auto& r : records) h.update(r.input_checksum.data(), r.input_checksum.size());
    m.corpus_checksum = h.hex();
    m.n_docs = n_docs;
    m.dim = dim;
    m.n_shards = opt.n_shards;
    m.build_params = seismic::to_json(opt.params);
    m.shards = std::move(records);
    m.build_stats = build_stats;
    return m;
}

}  // namespace aftershock::worker
