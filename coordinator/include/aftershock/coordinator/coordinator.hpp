#pragma once
// The coordinator process: an HTTP/1.1 server (Beast, keep-alive, coroutines) on a small pool of
// io_contexts, one Router per context, a health loop that learns and tracks the workers, the online recall
// shadow search, and /metrics.
#include "aftershock/common/host_port.hpp"
#include "aftershock/common/net/tls.hpp"
#include "aftershock/coordinator/api.hpp"
#include "aftershock/coordinator/auth.hpp"
#include "aftershock/coordinator/router.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace aftershock::coordinator {

struct CoordinatorOptions {
    std::string listen = "127.0.0.1:8080";
    std::vector<HostPort> workers;
    unsigned io_threads = 2;
    RouterOptions router;
    ApiLimits limits;
    std::size_t max_body_bytes = 1U << 20U;
    std::size_t max_connections = 1024;
    std::chrono::milliseconds idle_timeout{30'000};  ///< keep-alive connection without a request
    std::chrono::milliseconds read_timeout{10'000};  ///< a started request must arrive within this
    std::chrono::milliseconds health_interval{200};
    std::chrono::milliseconds health_timeout{500};
    double recall_sample = 0.01;   ///< fraction of live queries re-run exactly
    std::size_t recall_window = 1000;
    std::chrono::milliseconds recall_timeout{30'000};
    std::string vocab;             ///< optional: vocabulary for token and text queries (see load_query_encoder)
    BearerAuth auth;               ///< off unless tokens are configured; /healthz and /readyz are always open
    bool metrics_public = false;   ///< serve /metrics without a token when auth is on
    std::shared_ptr<net::TlsContext> tls;  ///< HTTPS on --listen when set (net::make_server_tls); plain HTTP otherwise
    std::chrono::milliseconds tls_handshake_timeout{5'000};
};

class Coordinator {
public:
    /// Binds the listening socket; throws UsageError / Error with the address on failure.
    explicit Coordinator(CoordinatorOptions options);
    ~Coordinator();
    Coordinator(const Coordinator&) = delete;
    Coordinator& operator=(const Coordinator&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept;
    /// Serves until stop() (or SIGTERM/SIGINT after handle_signals()).
    void run();
    void stop();
    void handle_signals();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace aftershock::coordinator
