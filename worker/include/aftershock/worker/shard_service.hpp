#pragma once
// What a shard server does with a request, without the sockets: the shards it serves, query validation and
// the search itself. The server (server.hpp) runs this on its thread pool; tests call it directly.
#include "aftershock/common/exact_search.hpp"
#include "aftershock/common/index_dir.hpp"
#include "aftershock/common/seismic/params.hpp"
#include "aftershock/common/wire/protocol.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace aftershock::worker {

/// A request the worker refuses (the connection stays open): carries the wire error code.
class RequestError : public Error {
public:
    RequestError(wire::ErrorCode code, const std::string& message) : Error(message), m_code(code) {}
    [[nodiscard]] wire::ErrorCode code() const noexcept { return m_code; }

private:
    wire::ErrorCode m_code;
};

/// Defaults for the knobs a request does not give (wire::SearchKnobs).
struct SearchDefaults {
    seismic::SearchParams sparse;
    std::uint32_t ef_search = 64;
    std::uint32_t nprobe = 16;
};

struct ServiceLimits {
    std::uint32_t max_k = 10000;
    std::uint32_t max_queries = 1024;  ///< per request
    std::uint32_t max_docs = 100000;   ///< per score or fetch request
};

class ShardService {
public:
    /// Loads and verifies the listed shards of `dir` (all of them when `shards` is empty). Throws InputError.
    /// `dense_store`: keep the dense vectors in memory or read them by row from the shard files.
    static ShardService open(const std::string& dir, const std::vector<std::uint32_t>& shards, SearchDefaults defaults = {},
                             ServiceLimits limits = {}, DenseStoreMode dense_store = DenseStoreMode::memory);

    /// Searches every query of the request on its shard. Throws RequestError for a request it refuses.
    /// Thread-safe: each calling thread uses its own scratch.
    [[nodiscard]] wire::SearchResponse search(const wire::SearchRequest& request) const;
    /// Exact dense scores of the request's documents (all on its shard). Throws RequestError.
    [[nodiscard]] wire::ScoreResponse score(const wire::ScoreRequest& request) const;
    /// Stored sparse or dense vectors of the request's documents. Throws RequestError.
    [[nodiscard]] wire::FetchResponse fetch(const wire::FetchRequest& request) const;

    /// JSON: the index (n_shards, n_docs, corpus checksum) and each served shard's range and parts.
    [[nodiscard]] std::string info_json() const;
    [[nodiscard]] const Manifest& manifest() const noexcept { return m_manifest; }
    [[nodiscard]] const std::map<std::uint32_t, Shard>& shards() const noexcept { return m_shards; }

private:
    [[nodiscard]] const Shard& shard(std::uint32_t id) const;
    void search_sparse(const Shard& sh, const wire::SearchRequest& req, wire::SearchResponse& resp) const;
    void search_dense(const Shard& sh, const wire::SearchRequest& req, wire::SearchResponse& resp) const;
    /// Local rows of `docs` on shard `sh`; RequestError for too many docs or a doc outside the shard.
    [[nodiscard]] std::vector<std::size_t> local_rows(const Shard& sh, const std::vector<std::uint64_t>& docs) const;
    /// Brute force over a shard's stored vectors, built on first use (it copies them: a shard used only for
    /// re-ranking keeps one copy). RequestError when the vectors stay on disk.
    [[nodiscard]] const DenseExactIndex& dense_exact(const Shard& sh) const;
    Manifest m_manifest;
    std::map<std::uint32_t, Shard> m_shards;
    mutable std::map<std::uint32_t, std::unique_ptr<DenseExactIndex>> m_dense_exact;
    std::unique_ptr<std::mutex> m_dense_exact_mutex = std::make_unique<std::mutex>();
    SearchDefaults m_defaults;
    ServiceLimits m_limits;
};

/// Parses "0,1,5" or "0-3" or "all" (empty list = all). Throws UsageError.
[[nodiscard]] std::vector<std::uint32_t> parse_shard_list(const std::string& text);

}  // namespace aftershock::worker
