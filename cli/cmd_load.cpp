// aftershock load: drives a coordinator over HTTP or HTTPS with the queries of a corpus file: a bounded load loop
// with N concurrent keep-alive connections; prints throughput, latency percentiles and status codes, and
// can write the answers as a run file (to compare with `aftershock search` or score with `aftershock recall`).
// --rate paces the requests open-loop (request i is due at start + i/rate, whichever connection is free sends it,
// and its latency counts from when it was due, so a slow server cannot hide its queueing); --trace writes one
// line per request (due time, latency, status, partial) for the fault and soak tests to cut into windows.
#include "commands.hpp"
#include "search_pipeline.hpp"

#include "aftershock/common/corpus.hpp"
#include "aftershock/common/error.hpp"
#include "aftershock/common/host_port.hpp"
#include "aftershock/common/latency.hpp"
#include "aftershock/common/net/stream.hpp"
#include "aftershock/common/net/tls.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace aftershock::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct LoadOptions {
    std::string url;
    bool tls = false;
    std::string ca;
    std::string corpus;
    std::string mode = "sparse";
    std::uint32_t k = 10;
    std::string fusion;
    double rank_constant = 60.0;
    double w_sparse = 1.0;
    double w_dense = 1.0;
    std::string normalization = "minmax";
    // Knobs left unset are not sent: the server's default. knn 0 turns the refinement off; the others must be positive.
    std::optional<std::uint32_t> candidates;
    std::optional<std::uint32_t> query_cut;
    std::optional<float> heap_factor;
    std::optional<std::uint32_t> knn;
    std::optional<std::uint32_t> ef_search;
    std::optional<std::uint32_t> nprobe;
    std::optional<std::uint32_t> timeout_ms;
    double min_coverage = -1.0;
    bool exact = false;
    unsigned concurrency = 1;
    std::size_t requests = 0;
    double duration = 0.0;
    std::size_t max_queries = 0;
    std::string out;
    bool fail_on_error = false;
    double think_ms = 0.0;
    double rate = 0.0;  ///< target requests per second over all connections (0: as fast as they answer)
    std::string trace;  ///< file for one line per request
    PipelineFlags pipeline;  ///< rerank / prf fields of every request
};

/// The JSON body of query q.
std::string body_for(const LoadOptions& o, const Corpus& c, std::size_t q) {
    json b;
    b["k"] = o.k;
    if (o.mode != "dense") {
        const auto row = c.query_sparse->row(q);
        b["sparse"] = {{"indices", std::vector<std::uint32_t>(row.indices.begin(), row.indices.end())},
                       {"values", std::vector<float>(row.values.begin(), row.values.end())}};
    }
    if (o.mode != "sparse") {
        const auto row = c.query_dense->row(q);
        b["dense"] = std::vector<float>(row.begin(), row.end());
    }
    if (!o.fusion.empty()) {
        b["fusion"] = {{"method", o.fusion}};
        if (o.fusion == "rrf") b["fusion"]["rank_constant"] = o.rank_constant;
        if (o.fusion == "linear") {
            b["fusion"]["weights"] = {{"sparse", o.w_sparse}, {"dense", o.w_dense}};
            b["fusion"]["normalization"] = o.normalization;
        }
    }
    json p = json::object();
    if (o.query_cut) p["query_cut"] = *o.query_cut;
    if (o.heap_factor) p["heap_factor"] = *o.heap_factor;
    if (o.knn) p["knn"] = *o.knn;
    if (o.ef_search) p["ef_search"] = *o.ef_search;
    if (o.nprobe) p["nprobe"] = *o.nprobe;
    if (!p.empty()) b["params"] = p;
    if (o.candidates) b["candidates"] = *o.candidates;
    if (o.timeout_ms) b["timeout_ms"] = *o.timeout_ms;
    if (o.min_coverage >= 0) b["min_coverage"] = o.min_coverage;
    if (o.exact) b["exact"] = true;
    b.update(pipeline_json(o.pipeline));
    return b.dump();
}

/// One request as --trace writes it.
struct TraceRow {
    double start_ms;    ///< since the start of the run: when it was due (--rate) or sent
    double latency_ms;  ///< from start_ms to the answer
    int status;         ///< HTTP status, 0 for a transport error
    bool partial;
};

/// One keep-alive HTTP/1.1 connection (TLS when a context is given); reconnects after errors.
class Client {
public:
    Client(HostPort hp, net::TlsContext* tls) : m_hp(std::move(hp)), m_tls(tls), m_stream(asio::ip::tcp::socket(m_io)) {}
    /// Returns (status, body); status 0 = transport error (body holds the message).
    std::pair<int, std::string> post(const std::string& target, const std::string& body) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            try {
                if (!m_connected) connect();
                http::request<http::string_body> req{http::verb::post, target, 11};
                req.set(http::field::host, m_hp.host);
                req.set(http::field::content_type, "application/json");
                req.keep_alive(true);
                req.body() = body;
                req.prepare_payload();
                http::write(m_stream, req);
                http::response<http::string_body> res;
                http::read(m_stream, m_buffer, res);
                if (!res.keep_alive()) m_connected = false;
                return {static_cast<int>(res.result_int()), std::move(res.body())};
            } catch (const std::exception& e) {
                m_connected = false;
                // A stale keep-alive connection (server closed it while idle) is retried once on a fresh one.
                if (attempt == 1) return {0, e.what()};
            }
        }
        return {0, "unreachable"};
    }

private:
    void connect() {
        m_stream.reset(asio::ip::tcp::socket(m_io), m_tls);
        m_buffer.clear();
        asio::ip::tcp::resolver r(m_io);
        asio::connect(m_stream.socket(), r.resolve(m_hp.host, std::to_string(m_hp.port)));
        m_stream.socket().set_option(asio::ip::tcp::no_delay(true));
        if (m_stream.tls() != nullptr) {
            m_stream.set_peer_name(m_hp.host);
            m_stream.handshake(asio::ssl::stream_base::client);
        }
        m_connected = true;
    }
    HostPort m_hp;
    net::TlsContext* m_tls;
    asio::io_context m_io;
    net::Stream m_stream;
    beast::flat_buffer m_buffer;
    bool m_connected = false;
};

void run_load(const LoadOptions& o) {
    // host:port, http://host:port or https://host:port (https, --tls or --ca: TLS, verified against --ca or the
    // system's trust store).
    std::string_view url = o.url;
    const bool https = url.starts_with("https://");
    if (https) url.remove_prefix(8);
    if (url.starts_with("http://")) url.remove_prefix(7);
    if (url.ends_with('/')) url.remove_suffix(1);
    const auto hp = parse_host_port(std::string(url));
    const auto tls = https || o.tls || !o.ca.empty() ? net::make_client_tls({.cert = {}, .key = {}, .ca = o.ca}) : nullptr;
    CorpusParts parts;
    parts.docs = false;
    parts.sparse = o.mode != "dense";
    parts.dense = o.mode != "sparse";
    parts.vocab = false;
    const auto corpus = read_corpus(o.corpus, parts);
    const auto n_queries_all = corpus.query_sparse ? corpus.query_sparse->n_rows() : (corpus.query_dense ? corpus.query_dense->n : 0);
    ensure<InputError>(n_queries_all > 0, "{}: no queries for mode {}", o.corpus, o.mode);
    const auto n_queries = o.max_queries > 0 ? std::min(o.max_queries, n_queries_all) : n_queries_all;
    std::vector<std::string> bodies(n_queries);
    for (std::size_t q = 0; q < n_queries; ++q) bodies[q] = body_for(o, corpus, q);
    const std::size_t total = o.duration > 0 ? std::numeric_limits<std::size_t>::max() : (o.requests > 0 ? o.requests : n_queries);
    const bool record = !o.out.empty();
    ensure<UsageError>(!record || (total == n_queries && o.duration <= 0), "--out needs each query sent once (no --requests/--duration)");

    std::atomic<std::size_t> next{0};
    std::vector<TraceRow> trace;
    double max_lag_ms = 0.0;  // --rate: the most a request was sent after it was due (the driver or server fell behind)
    std::mutex mutex;
    std::vector<double> latencies_ms;
    std::vector<double> search_ms;    // the workers' own time on the critical path (from the answers)
    std::vector<double> overhead_ms;  // client latency minus that: HTTP, coordinator, network, merge
    std::map<int, std::size_t> codes;
    std::size_t partial = 0;
    std::vector<std::string> answers(record ? n_queries : 0);
    std::string first_error;
    const auto start = Clock::now();
    // The trace's time 0 on the wall clock: lets a test line the trace up with what it did (kill, restart) even when
    // the driver started late on a loaded machine.
    const auto start_unix_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const auto stop_at = o.duration > 0 ? start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration))
                                        : Clock::time_point::max();
    const auto due = [&](std::size_t i) {
        return start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(i) / o.rate));
    };
    const auto ms_since = [](Clock::time_point from, Clock::time_point to) { return std::chrono::duration<double, std::milli>(to - from).count(); };
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < std::max(1U, o.concurrency); ++t) {
        threads.emplace_back([&] {
            Client client(hp, tls.get());
            std::vector<double> mine;
            std::vector<double> my_search;
            std::vector<double> my_overhead;
            std::map<int, std::size_t> my_codes;
            std::size_t my_partial = 0;
            std::vector<TraceRow> my_trace;
            double my_lag = 0.0;
            for (;;) {
                const auto i = next.fetch_add(1);
                if (i >= total) break;
                auto t0 = Clock::now();
                if (o.rate > 0) {
                    const auto when = due(i);
                    if (when >= stop_at) break;
                    std::this_thread::sleep_until(when);
                    my_lag = std::max(my_lag, ms_since(when, Clock::now()));
                    t0 = when;
                }
                if (Clock::now() >= stop_at) break;  // (--rate: a request still due when the run ends is not sent)
                const auto q = i % n_queries;
                auto [status, body] = client.post("/v1/search", bodies[q]);
                mine.push_back(ms_since(t0, Clock::now()));
                ++my_codes[status];
                if (const auto at = body.find("\"search_ms\":"); status == 200 && at != std::string::npos) {
                    const double s = std::strtod(body.c_str() + at + 12, nullptr);
                    my_search.push_back(s);
                    my_overhead.push_back(mine.back() - s);
                }
                const bool is_partial = status == 200 && body.find("\"partial\":true") != std::string::npos;
                my_partial += is_partial ? 1 : 0;
                if (!o.trace.empty()) my_trace.push_back({ms_since(start, t0), mine.back(), status, is_partial});
                if (status != 200) {
                    std::lock_guard lock(mutex);
                    if (first_error.empty()) first_error = fmt::format("query {}: HTTP {}: {}", q, status, body.substr(0, 300));
                }
                if (record) answers[q] = std::move(body);
                if (o.think_ms > 0) std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(o.think_ms));
            }
            std::lock_guard lock(mutex);
            latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
            search_ms.insert(search_ms.end(), my_search.begin(), my_search.end());
            overhead_ms.insert(overhead_ms.end(), my_overhead.begin(), my_overhead.end());
            for (const auto& [c, n] : my_codes) codes[c] += n;
            partial += my_partial;
            trace.insert(trace.end(), my_trace.begin(), my_trace.end());
            max_lag_ms = std::max(max_lag_ms, my_lag);
        });
    }
    for (auto& t : threads) t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const auto summary = summarize_latencies(latencies_ms);
    std::size_t ok = codes.count(200) ? codes[200] : 0;
    std::string code_list;
    for (const auto& [c, n] : codes) code_list += fmt::format("{}{}:{}", code_list.empty() ? "" : ",", c, n);
    fmt::print("requests={} ok={} codes={} partial={} seconds={:.3f} qps={:.1f} mean_ms={:.3f} p50_ms={:.3f} p99_ms={:.3f} "
               "p50_search_ms={:.3f} p50_overhead_ms={:.3f} concurrency={}\n",
               latencies_ms.size(), ok, code_list, partial, seconds, static_cast<double>(latencies_ms.size()) / seconds, summary.mean,
               summary.p50, summary.p99, percentile(search_ms, 50), percentile(overhead_ms, 50), o.concurrency);
    if (o.rate > 0) fmt::print("target_qps={:.1f} max_lag_ms={:.3f}\n", o.rate, max_lag_ms);
    if (!first_error.empty()) spdlog::warn("{}", first_error);
    if (!o.trace.empty()) {
        std::sort(trace.begin(), trace.end(), [](const TraceRow& a, const TraceRow& b) { return a.start_ms < b.start_ms; });
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(o.trace.c_str(), "w"), &std::fclose);
        ensure<InputError>(file != nullptr, "cannot write {}", o.trace);
        fmt::print(file.get(), "# t0_unix_ms {}\n# start_ms latency_ms status partial\n", start_unix_ms);
        for (const auto& r : trace) fmt::print(file.get(), "{:.3f} {:.3f} {} {}\n", r.start_ms, r.latency_ms, r.status, r.partial ? 1 : 0);
        ensure(std::fflush(file.get()) == 0 && std::ferror(file.get()) == 0, "write of {} failed", o.trace);
    }
    if (record) {
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(o.out.c_str(), "w"), &std::fclose);
        ensure<InputError>(file != nullptr, "cannot write {}", o.out);
        for (std::size_t q = 0; q < n_queries; ++q) {
            const auto qid = corpus.query_ids.empty() ? std::to_string(q) : corpus.query_ids[q];
            if (answers[q].empty() || answers[q].front() != '{') continue;
            const auto j = json::parse(answers[q], nullptr, false);
            if (j.is_discarded() || !j.contains("hits")) continue;
            std::size_t rank = 1;
            for (const auto& h : j["hits"]) {
                fmt::print(file.get(), "{}\t{}\t{}\t{:.9g}\n", qid, h["id"].get<std::string>(), rank++, h["score"].get<float>());
            }
        }
    }
    ensure(!o.fail_on_error || ok == latencies_ms.size(), "{} of {} requests failed", latencies_ms.size() - ok, latencies_ms.size());
}

/// The HTTP API's range for heap_factor, (0, 100], checked before any request.
std::string check_heap_factor(std::string& text) {
    char* end = nullptr;
    const double h = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0' || !(h > 0.0 && h <= 100.0)) return "heap_factor " + text + " is not in (0, 100]";
    return {};
}

}  // namespace

void register_load(CLI::App& app) {
    auto o = std::make_shared<LoadOptions>();
    // The other knobs' ranges as the HTTP API has them (api.cpp); the deadline and the hybrid depth have server-set caps.
    constexpr std::uint32_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
    auto* sub = app.add_subcommand("load", "send a corpus's queries to a coordinator over HTTP (load loop, latency, run file)");
    sub->add_option("--url", o->url, "coordinator host:port (or http://host:port, https://host:port)")->required();
    sub->add_flag("--tls", o->tls, "HTTPS (the certificate is verified against --ca or the system's trust store)");
    sub->add_option("--ca", o->ca, "CA bundle (PEM) that the coordinator's certificate must chain to; implies --tls");
    sub->add_option("--corpus", o->corpus, "corpus HDF5 file with /queries")->required()->check(CLI::ExistingFile);
    sub->add_option("--mode", o->mode, "sparse | dense | hybrid")->capture_default_str()->check(CLI::IsMember({"sparse", "dense", "hybrid"}));
    sub->add_option("--k", o->k, "results per query")->capture_default_str();
    sub->add_option("--fusion", o->fusion, "rrf | linear (default: the coordinator's)")->check(CLI::IsMember({"rrf", "linear"}));
    sub->add_option("--rank-constant", o->rank_constant, "RRF rank constant")->capture_default_str();
    sub->add_option("--w-sparse", o->w_sparse, "linear fusion weight of the sparse route")->capture_default_str();
    sub->add_option("--w-dense", o->w_dense, "linear fusion weight of the dense route")->capture_default_str();
    sub->add_option("--normalization", o->normalization, "none | minmax | zscore")->capture_default_str();
    sub->add_option("--candidates", o->candidates, "per-route depth for hybrid fusion (not given: the server's default)")
        ->check(CLI::Range(1U, kMaxU32));
    sub->add_option("--query-cut", o->query_cut, "Seismic query_cut (not given: the server's default)")->check(CLI::Range(1U, 100000U));
    sub->add_option("--heap-factor", o->heap_factor, "Seismic heap_factor (not given: the server's default)")
        ->check(CLI::Validator(check_heap_factor, "(0, 100]"));
    sub->add_option("--knn", o->knn, "kNN refinement neighbours (0: none; not given: the server's default)")->check(CLI::Range(0U, 1000U));
    sub->add_option("--ef-search", o->ef_search, "HNSW ef_search (not given: the server's default)")->check(CLI::Range(1U, 100000U));
    sub->add_option("--nprobe", o->nprobe, "IVF nprobe (not given: the server's default)")->check(CLI::Range(1U, 1000000U));
    sub->add_option("--timeout-ms", o->timeout_ms, "per-request deadline (not given: the server's default)")->check(CLI::Range(1U, kMaxU32));
    sub->add_option("--min-coverage", o->min_coverage, "fraction of shards that must answer (default: server's)");
    sub->add_flag("--exact", o->exact, "ask for exact (brute-force) search");
    sub->add_option("--concurrency", o->concurrency, "concurrent connections")->capture_default_str();
    sub->add_option("--requests", o->requests, "total requests (default: each query once)");
    sub->add_option("--duration", o->duration, "run for this many seconds instead (queries cycle)");
    sub->add_option("--max-queries", o->max_queries, "use only the first N queries");
    sub->add_option("--think-ms", o->think_ms, "pause between a connection's requests (open-loop-ish pacing)");
    sub->add_option("--rate", o->rate,
                    "open-loop pacing: this many requests per second over all connections (request i is due at i/rate s; "
                    "its latency counts from then; the connections bound the requests outstanding)")
        ->check(CLI::PositiveNumber);
    sub->add_option("--trace", o->trace, "write one line per request: start_ms latency_ms status partial (sorted by start; a '# t0_unix_ms' line gives time 0)");
    sub->add_option("--out", o->out, "write the answers as a run file (qid docid rank score)");
    sub->add_flag("--fail-on-error", o->fail_on_error, "exit non-zero if any request did not return 200");
    add_pipeline_flags(*sub, std::shared_ptr<PipelineFlags>(o, &o->pipeline));
    sub->callback([o] { run_load(*o); });
}

}  // namespace aftershock::cli
