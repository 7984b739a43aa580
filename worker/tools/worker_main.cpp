// aftershock-worker: serves shards of an index directory to coordinators over the binary protocol
// (docs/PROTOCOL.md), with its own Prometheus /metrics. SIGTERM drains in-flight requests, then exits 0.
#include "aftershock/common/error.hpp"
#include "aftershock/common/host_port.hpp"
#include "aftershock/common/wire/auth.hpp"
#include "aftershock/worker/server.hpp"
#include "aftershock/worker/shard_service.hpp"

#include <CLI/CLI.hpp>
#include <prometheus/exposer.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>


int main(int argc, char** argv) {
    using namespace aftershock;
    CLI::App app{"aftershock-worker: serve index shards to the coordinator"};
    app.set_version_flag("--version", std::string("aftershock-worker ") + AFTERSHOCK_VERSION);
    app.set_config("--config", "", "read flags from an INI/TOML file");
    spdlog::set_default_logger(spdlog::stderr_color_mt("worker"));
    spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] [worker] %v");
    std::string index;
    std::string shards = "all";
    std::string metrics_listen;
    std::string port_file;
    std::string log_level = "info";
    worker::ServerOptions opt;
    worker::SearchDefaults defaults;
    DenseStoreMode dense_store = DenseStoreMode::memory;
    unsigned idle_ms = 300'000;
    unsigned frame_ms = 10'000;
    unsigned drain_ms = 10'000;
    app.add_option("--index", index, "index directory (manifest.json + shard files)")->required();
    app.add_option("--shards", shards, "shards to serve: 0,1,5 | 0-3 | all")->capture_default_str();
    app.add_option("--listen", opt.listen, "host:port for coordinators (port 0 = any free port)")->capture_default_str();
    app.add_option("--metrics-listen", metrics_listen, "host:port for Prometheus /metrics (empty = off)");
    app.add_option("--port-file", port_file, "write the bound port here once listening (for scripts and tests)");
    app.add_option("--threads", opt.threads, "search threads (0 = all cores)")->capture_default_str();
    app.add_option("--query-cut", defaults.sparse.query_cut, "default sparse query_cut")->capture_default_str();
    app.add_option("--heap-factor", defaults.sparse.heap_factor, "default sparse heap_factor")->capture_default_str();
    app.add_option("--knn", defaults.sparse.knn,
                   "default kNN refinement neighbours (0 = off; default: all each shard's graph holds)");
    app.add_option("--screen-entries", defaults.sparse.screen_entries,
                   "sparse screening prefix: heaviest entries scored first (0 = off)")
        ->capture_default_str();
    app.add_option("--screen-factor", defaults.sparse.screen_factor, "drop a document whose prefix scores below this x theta")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 100.0));
    app.add_option("--ef-search", defaults.ef_search, "default HNSW ef_search")->capture_default_str();
    app.add_option("--nprobe", defaults.nprobe, "default IVF nprobe")->capture_default_str();
    app.add_option_function<std::string>("--dense-store", [&](const std::string& v) { dense_store = parse_dense_store_mode(v); },
                                         "memory | disk: keep /dense/vectors loaded, or read rows from the shard files on "
                                         "demand (re-ranking and PRF; exact dense search then needs memory)")
        ->check(CLI::IsMember({"memory", "disk"}));
    app.add_option("--inline-when-idle", opt.inline_when_idle,
                   "run a search on the network thread when no other search is running (lower latency at low load)")
        ->capture_default_str();
    app.add_option("--max-frame-bytes", opt.max_frame_bytes, "largest accepted frame")->capture_default_str();
    app.add_option("--max-connections", opt.max_connections, "connection cap")->capture_default_str();
    app.add_option("--idle-timeout-ms", idle_ms, "close connections idle this long")->capture_default_str();
    app.add_option("--frame-timeout-ms", frame_ms, "a started frame must complete within this")->capture_default_str();
    app.add_option("--drain-timeout-ms", drain_ms, "SIGTERM: wait this long for in-flight searches")->capture_default_str();
    app.add_option("--allow-from", opt.allow_from, "only these coordinator IP addresses may connect (comma-separated; default any)")
        ->delimiter(',');
    net::TlsFiles tls;
    std::string secret_file;
    app.add_option("--tls-cert", tls.cert, "serve the protocol over TLS 1.2+ with this certificate chain (PEM; needs --tls-key)");
    app.add_option("--tls-key", tls.key, "private key of --tls-cert (PEM)");
    app.add_option("--tls-ca", tls.ca, "mutual TLS: clients must present a certificate signed by this CA (PEM)");
    app.add_option("--shared-secret-file", secret_file, "clients must prove they know this secret (HMAC challenge) before any "
                                                        "request; also AFTERSHOCK_SHARED_SECRET");
    app.add_option("--test-delay-ms", opt.test_delay_ms, "")->group("");  // test-only slow replica
    app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    spdlog::set_level(spdlog::level::from_str(log_level));
    opt.idle_timeout = std::chrono::milliseconds(idle_ms);
    opt.frame_timeout = std::chrono::milliseconds(frame_ms);
    opt.drain_timeout = std::chrono::milliseconds(drain_ms);
    try {
        ensure<UsageError>(tls.cert.empty() == tls.key.empty() && (tls.ca.empty() || !tls.cert.empty()),
                           "--tls-cert and --tls-key go together, and --tls-ca needs them");
        if (!tls.cert.empty()) opt.tls = net::make_server_tls(tls);
        opt.shared_secret = wire::load_shared_secret(secret_file);
        auto registry = std::make_shared<prometheus::Registry>();
        const auto service = worker::ShardService::open(index, worker::parse_shard_list(shards), defaults, {}, dense_store);
        worker::Server server(service, opt, *registry);
        std::unique_ptr<prometheus::Exposer> exposer;
        if (!metrics_listen.empty()) {
            exposer = std::make_unique<prometheus::Exposer>(metrics_listen);
            exposer->RegisterCollectable(registry);
            const auto ports = exposer->GetListeningPorts();
            spdlog::info("metrics on http://{}:{}/metrics", parse_host_port(metrics_listen).host, ports.empty() ? 0 : ports.front());
        }
        if (!port_file.empty()) write_port_file(port_file, server.port());
        server.handle_signals();
        server.run();
    } catch (const aftershock::Error& e) {
        spdlog::error("{}", e.what());
        return 1;
    } catch (const std::exception& e) {
        spdlog::error("unexpected error: {}", e.what());
        return 2;
    }
    return 0;
}
