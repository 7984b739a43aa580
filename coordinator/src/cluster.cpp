#include "aftershock/coordinator/cluster.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

namespace aftershock::coordinator {

namespace {
constexpr std::size_t kLatencyWindow = 512;
}

WorkerInfo parse_worker_info(const std::string& text) {
    try {
        const auto j = nlohmann::json::parse(text);
        WorkerInfo info;
        info.n_shards = j.at("n_shards").get<std::uint32_t>();
        info.n_docs = j.at("n_docs").get<std::uint64_t>();
        info.corpus_checksum = j.at("corpus_checksum").get<std::string>();
        for (const auto& s : j.at("shards")) {
            WorkerInfo::ShardInfo si;
            si.shard = s.at("shard").get<std::uint32_t>();
            si.doc_begin = s.at("doc_begin").get<std::uint64_t>();
            si.doc_end = s.at("doc_end").get<std::uint64_t>();
            si.sparse = s.at("sparse").get<bool>();
            si.dim = s.value("dim", std::uint64_t{0});
            si.dense = s.value("dense", false);
            si.dense_dim = s.value("dense_dim", std::uint64_t{0});
            ensure<InputError>(si.shard < info.n_shards, "shard {} >= n_shards {}", si.shard, info.n_shards);
            info.shards.push_back(si);
        }
        return info;
    } catch (const nlohmann::json::exception& e) {
        throw InputError(std::string("worker info: ") + e.what());
    }
}

ClusterState::ClusterState(std::vector<HostPort> workers)
    : m_addresses(std::move(workers)), m_workers(m_addresses.size()),
      m_in_flight(std::make_unique<std::atomic<std::int64_t>[]>(m_addresses.size())), m_ewma(m_addresses.size(), 0.0) {}

bool ClusterState::known(std::size_t w) const {
    std::lock_guard lock(m_mutex);
    return m_workers[w].known;
}

bool ClusterState::mark_healthy(std::size_t w) {
    std::lock_guard lock(m_mutex);
    auto& wk = m_workers[w];
    wk.last_ok = Clock::now();
    if (wk.healthy || !wk.known || wk.refused) return false;
    wk.healthy = true;
    spdlog::info("worker {} is up", m_addresses[w].str());
    return true;
}

bool ClusterState::mark_unhealthy(std::size_t w, const std::string& why) {
    std::lock_guard lock(m_mutex);
    auto& wk = m_workers[w];
    wk.last_error = why;
    ++wk.failures;
    if (!wk.healthy) return false;
    wk.healthy = false;
    spdlog::warn("worker {} is down: {}", m_addresses[w].str(), why);
    return true;
}

bool ClusterState::set_info(std::size_t w, const WorkerInfo& info) {
    std::lock_guard lock(m_mutex);
    auto& wk = m_workers[w];
    if (m_n_shards == 0) {
        m_n_shards = info.n_shards;
        m_checksum = info.corpus_checksum;
        m_shard_info.assign(m_n_shards, {});
        m_replicas.assign(m_n_shards, {});
        m_latency.assign(m_n_shards, {});
        for (auto& l : m_latency) l.samples.assign(kLatencyWindow, 0.0);
    }
    if (info.n_shards != m_n_shards || info.corpus_checksum != m_checksum) {
        wk.refused = true;
        wk.healthy = false;
        wk.last_error = fmt::format("serves a different index ({} shards, corpus checksum {}) than the cluster ({} shards, {})",
                                    info.n_shards, info.corpus_checksum, m_n_shards, m_checksum);
        spdlog::error("worker {} refused: {}", m_addresses[w].str(), wk.last_error);
        return false;
    }
    wk.info = info;
    wk.known = true;
    wk.refused = false;
    for (const auto& s : info.shards) {
        m_shard_info[s.shard] = s;
        auto& reps = m_replicas[s.shard];
        if (std::find(reps.begin(), reps.end(), w) == reps.end()) reps.push_back(w);
    }
    return true;
}

std::uint32_t ClusterState::n_shards() const {
    std::lock_guard lock(m_mutex);
    return m_n_shards;
}

IndexFacts ClusterState::facts() const {
    std::lock_guard lock(m_mutex);
    IndexFacts f;
    for (const auto& s : m_shard_info) {
        if (s.sparse) f.sparse_dim = std::max(f.sparse_dim, s.dim);
        if (s.dense) f.dense_dim = std::max(f.dense_dim, s.dense_dim);
    }
    return f;
}

std::vector<std::size_t> ClusterState::live_replicas(std::uint32_t shard, const std::vector<std::size_t>& exclude) const {
    std::vector<std::size_t> out;
    std::vector<double> cost(m_addresses.size(), 0.0);
    {
        std::lock_guard lock(m_mutex);
        if (shard >= m_replicas.size()) return out;
        for (auto w : m_replicas[shard]) {
            if (m_workers[w].healthy && std::find(exclude.begin(), exclude.end(), w) == exclude.end()) out.push_back(w);
        }
        // Expected wait = (requests in flight + 1) x latency, where latencies within 2x of the fastest replica's
        // count as equal: the averages are noisy and partly made of our own queueing, so without this floor one
        // replica ends up with every shard of a fan-out while its twin idles. Clearly slower replicas are avoided.
        double fastest = std::numeric_limits<double>::max();
        for (auto w : out) fastest = std::min(fastest, std::max(m_ewma[w], 1e-6));
        for (auto w : out) {
            cost[w] = static_cast<double>(m_in_flight[w].load(std::memory_order_relaxed) + 1) * std::max(m_ewma[w], 2.0 * fastest);
        }
    }
    if (out.size() > 1) {
        const auto turn = m_rotation.fetch_add(1, std::memory_order_relaxed);
        // Rotate first so equal replicas share the traffic; then order by expected wait, except on exploring turns.
        // 1 in 50 (2%) stays under the 5% that the p95 hedge delay ignores, so explored slow picks get hedged early.
        const bool explore = turn % 50 == 0;
        const auto shift = (explore ? turn / 50 : turn) % out.size();
        std::rotate(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(shift), out.end());
        if (!explore) {
            std::stable_sort(out.begin(), out.end(), [&](std::size_t a, std::size_t b) { return cost[a] < cost[b]; });
        }
    }
    return out;
}

void ClusterState::record_worker_latency(std::size_t w, double seconds) {
    std::lock_guard lock(m_mutex);
    // alpha 0.2: about the last ten answers matter, so a replica that slows down is avoided within a few requests.
    m_ewma[w] = m_ewma[w] == 0.0 ? seconds : 0.8 * m_ewma[w] + 0.2 * seconds;
}

bool ClusterState::ready() const {
    std::lock_guard lock(m_mutex);
    if (m_n_shards == 0) return false;
    return std::all_of(m_replicas.begin(), m_replicas.end(), [&](const auto& reps) {
        return std::any_of(reps.begin(), reps.end(), [&](std::size_t w) { return m_workers[w].healthy; });
    });
}

std::vector<std::size_t> ClusterState::live_replica_counts() const {
    std::lock_guard lock(m_mutex);
    std::vector<std::size_t> out;
    for (const auto& reps : m_replicas) {
        out.push_back(static_cast<std::size_t>(std::count_if(reps.begin(), reps.end(), [&](std::size_t w) { return m_workers[w].healthy; })));
    }
    return out;
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> ClusterState::shard_ranges() const {
    const std::lock_guard lock(m_mutex);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    for (const auto& s : m_shard_info) out.emplace_back(s.doc_begin, s.doc_end);
    return out;
}

std::vector<std::uint64_t> ClusterState::shard_documents() const {
    std::lock_guard lock(m_mutex);
    std::vector<std::uint64_t> out;
    for (const auto& s : m_shard_info) out.push_back(s.doc_end - s.doc_begin);
    return out;
}

nlohmann::json ClusterState::describe() const {
    std::lock_guard lock(m_mutex);
    nlohmann::json j;
    j["n_shards"] = m_n_shards;
    j["corpus_checksum"] = m_checksum;
    j["workers"] = nlohmann::json::array();
    const auto now = Clock::now();
    for (std::size_t w = 0; w < m_workers.size(); ++w) {
        const auto& wk = m_workers[w];
        nlohmann::json x;
        x["address"] = m_addresses[w].str();
        x["state"] = wk.refused ? "refused" : (wk.healthy ? "up" : (wk.known ? "down" : "unknown"));
        std::vector<std::uint32_t> shards;
        for (const auto& s : wk.info.shards) shards.push_back(s.shard);
        x["shards"] = shards;
        x["in_flight"] = m_in_flight[w].load(std::memory_order_relaxed);
        x["latency_ewma_ms"] = m_ewma[w] * 1e3;  // what replica choice weighs (with in_flight)
        x["failures"] = wk.failures;
        if (!wk.last_error.empty()) x["last_error"] = wk.last_error;
        if (wk.last_ok != Clock::time_point{}) {
            x["last_ok_ms_ago"] = std::chrono::duration_cast<std::chrono::milliseconds>(now - wk.last_ok).count();
        }
        j["workers"].push_back(std::move(x));
    }
    j["shards"] = nlohmann::json::array();
    for (std::uint32_t s = 0; s < m_n_shards; ++s) {
        nlohmann::json x;
        x["shard"] = s;
        x["documents"] = m_shard_info[s].doc_end - m_shard_info[s].doc_begin;
        x["doc_begin"] = m_shard_info[s].doc_begin;
        std::vector<std::string> reps;
        std::size_t live = 0;
        for (auto w : m_replicas[s]) {
            reps.push_back(m_addresses[w].str());
            live += m_workers[w].healthy ? 1 : 0;
        }
        x["replicas"] = reps;
        x["live_replicas"] = live;
        x["state"] = live > 0 ? "serving" : "unavailable";
        j["shards"].push_back(std::move(x));
    }
    return j;
}

void ClusterState::record_latency(std::uint32_t shard, double seconds) {
    std::lock_guard lock(m_mutex);
    if (shard >= m_latency.size()) return;
    auto& l = m_latency[shard];
    l.samples[l.next] = seconds;
    l.next = (l.next + 1) % l.samples.size();
    l.count = std::min(l.count + 1, l.samples.size());
}

std::optional<double> ClusterState::latency_p95(std::uint32_t shard, std::size_t min_samples) const {
    std::vector<double> copy;
    {
        std::lock_guard lock(m_mutex);
        if (shard >= m_latency.size() || m_latency[shard].count < min_samples) return std::nullopt;
        const auto& l = m_latency[shard];
        copy.assign(l.samples.begin(), l.samples.begin() + static_cast<std::ptrdiff_t>(l.count));
    }
    const auto at = copy.begin() + static_cast<std::ptrdiff_t>((copy.size() * 95) / 100);
    std::nth_element(copy.begin(), at, copy.end());
    return *at;
}

}  // namespace aftershock::coordinator
