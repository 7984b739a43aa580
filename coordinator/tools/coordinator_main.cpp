// aftershock-coordinator: the HTTP front end of a cluster of aftershock-worker processes (DESIGN.md §7).
#include "aftershock/common/error.hpp"
#include "aftershock/common/host_port.hpp"
#include "aftershock/common/wire/auth.hpp"
#include "aftershock/coordinator/coordinator.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

int main(int argc, char** argv) {
    using namespace aftershock;
    using namespace aftershock::coordinator;
    CLI::App app{"aftershock-coordinator: HTTP search API over aftershock-worker shard servers"};
    app.set_version_flag("--version", std::string("aftershock-coordinator ") + AFTERSHOCK_VERSION);
    app.set_config("--config", "", "read flags from an INI/TOML file");
    spdlog::set_default_logger(spdlog::stderr_color_mt("coordinator"));
    spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] [coordinator] %v");
    CoordinatorOptions opt;
    std::string workers;
    std::string port_file;
    std::string log_level = "info";
    int timeout_ms = 1000;
    int hedge_ms = 0;
    unsigned idle_ms = 30'000;
    app.add_option("--listen", opt.listen, "host:port for the HTTP API (port 0 = any free port)")->capture_default_str();
    app.add_option("--workers", workers, "worker addresses host:port,host:port,...")->required();
    app.add_option("--port-file", port_file, "write the bound port here once listening (for scripts and tests)");
    app.add_option("--io-threads", opt.io_threads, "I/O threads (one io_context each)")->capture_default_str();
    app.add_option("--timeout-ms", timeout_ms, "default per-request deadline")->capture_default_str()->check(CLI::Range(1, 600000));
    app.add_option("--hedge-ms", hedge_ms, "hedge delay: >0 fixed ms, 0 = the shard's recent p95, -1 = off")->capture_default_str();
    app.add_option("--shard-k-epsilon", opt.router.shard_k_epsilon,
                   "per-shard k reduction for queries that do not set shard_k_epsilon: each shard returns what it holds of "
                   "the top-k with probability 1-epsilon, shards that may hide more are asked again (0 = off)")
        ->check(CLI::Range(0.0, 0.49))->capture_default_str();
    app.add_option("--max-body-bytes", opt.max_body_bytes, "largest accepted request body")->capture_default_str();
    app.add_option("--max-batch", opt.limits.max_batch, "most queries in one /v1/search/batch")->capture_default_str();
    app.add_option("--max-k", opt.limits.max_k, "largest k")->capture_default_str();
    app.add_option("--max-connections", opt.max_connections, "HTTP connection cap")->capture_default_str();
    app.add_option("--idle-timeout-ms", idle_ms, "close keep-alive connections idle this long")->capture_default_str();
    app.add_option("--recall-sample", opt.recall_sample, "fraction of queries re-run exactly for the online recall estimate")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));
    app.add_option("--recall-window", opt.recall_window, "queries in the recall estimate's sliding window")->capture_default_str();
    app.add_option("--vocab", opt.vocab, "vocabulary for token/text queries: index dir, corpus .h5 or BERT vocab.json");
    std::string auth_file;
    app.add_option("--auth-tokens-file", auth_file, "bearer tokens, one per line: the API then needs 'Authorization: Bearer <token>' "
                                                    "(also AFTERSHOCK_AUTH_TOKENS=t1,t2); /healthz and /readyz stay open");
    app.add_flag("--metrics-public", opt.metrics_public, "serve /metrics without a token when auth is on");
    net::TlsFiles http_tls;
    app.add_option("--tls-cert", http_tls.cert, "serve HTTPS (TLS 1.2+) on --listen with this certificate chain (PEM; needs --tls-key)");
    app.add_option("--tls-key", http_tls.key, "private key of --tls-cert (PEM)");
    net::TlsFiles worker_tls;
    std::string secret_file;
    app.add_option("--worker-tls-ca", worker_tls.ca, "talk to the workers over TLS 1.2+, verifying their certificates (name or IP "
                                                     "of --workers) against this CA (PEM)");
    app.add_option("--worker-tls-cert", worker_tls.cert, "mutual TLS: client certificate shown to the workers (PEM; needs --worker-tls-key)");
    app.add_option("--worker-tls-key", worker_tls.key, "private key of --worker-tls-cert (PEM)");
    app.add_option("--shared-secret-file", secret_file, "answer the workers' shared-secret challenge with this secret; also "
                                                        "AFTERSHOCK_SHARED_SECRET");
    app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    spdlog::set_level(spdlog::level::from_str(log_level));
    try {
        opt.workers = parse_host_port_list(workers);
        if (!auth_file.empty()) {
            opt.auth = BearerAuth::from_file(auth_file);
        } else if (const char* env = std::getenv("AFTERSHOCK_AUTH_TOKENS"); env != nullptr && *env != '\0') {
            opt.auth = BearerAuth::from_list(env);
        }
        if (opt.auth.enabled()) spdlog::info("bearer-token auth on{}", opt.metrics_public ? " (/metrics public)" : "");
        if (!http_tls.cert.empty() || !http_tls.key.empty()) opt.tls = net::make_server_tls(http_tls);
        ensure<UsageError>(worker_tls.cert.empty() || !worker_tls.ca.empty(), "--worker-tls-cert needs --worker-tls-ca");
        if (!worker_tls.ca.empty()) opt.router.worker_security.tls = net::make_client_tls(worker_tls);
        opt.router.worker_security.shared_secret = wire::load_shared_secret(secret_file);
        opt.router.default_timeout = std::chrono::milliseconds(timeout_ms);
        opt.router.hedge_delay = std::chrono::milliseconds(hedge_ms);
        opt.idle_timeout = std::chrono::milliseconds(idle_ms);
        Coordinator coordinator(opt);
        if (!port_file.empty()) write_port_file(port_file, coordinator.port());
        coordinator.handle_signals();
        coordinator.run();
    } catch (const aftershock::Error& e) {
        spdlog::error("{}", e.what());
        return 1;
    } catch (const std::exception& e) {
        spdlog::error("unexpected error: {}", e.what());
        return 2;
    }
    return 0;
}
