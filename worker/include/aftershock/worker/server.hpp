#pragma once
// The shard server: accepts coordinator connections, reads framed requests (docs/PROTOCOL.md), runs searches
// on a thread pool and writes answers as they finish (pipelined, matched by request id). One network thread
// owns every connection; search threads hand results back to it, so connection state needs no locks. When
// nothing else is running, a search runs on the network thread itself (lowest latency at low load).
#include "aftershock/common/net/tls.hpp"
#include "aftershock/worker/shard_service.hpp"

#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace aftershock::worker {

struct ServerOptions {
    std::string listen = "127.0.0.1:0";  ///< host:port (port 0 = any free port; see Server::port())
    unsigned threads = 0;                ///< search threads; 0 = all cores
    std::uint32_t max_frame_bytes = wire::kDefaultMaxFrameBytes;
    std::chrono::milliseconds idle_timeout{300'000};  ///< a connection with no request for this long is closed
    std::chrono::milliseconds frame_timeout{10'000};  ///< a started frame must arrive completely within this
    std::size_t max_connections = 256;                ///< more are accepted and closed at once
    std::chrono::milliseconds drain_timeout{10'000};  ///< graceful stop: how long in-flight requests may finish
    std::vector<std::string> allow_from;  ///< peer IP addresses allowed to connect (empty = any)
    bool inline_when_idle = true;  ///< an idle worker searches on the network thread (no hand-off to the pool)
    std::shared_ptr<net::TlsContext> tls;  ///< null: plain TCP (see net::make_server_tls; with a CA: mutual TLS)
    std::string shared_secret;             ///< non-empty: clients must pass the challenge (wire/auth.hpp) first
    unsigned test_delay_ms = 0;  ///< test-only: sleep before each search (slow-replica tests; never in production)
};

class Server {
public:
    /// Binds the listening socket (throws UsageError for a bad address, Error when the port is taken).
    Server(const ShardService& service, ServerOptions options, prometheus::Registry& registry);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept;
    /// Serves until stop() (or SIGTERM/SIGINT when handle_signals was called) and every request has drained.
    void run();
    /// Graceful stop, callable from any thread: refuse new searches, finish in-flight ones (up to
    /// drain_timeout), close connections, return from run().
    void stop();
    /// Makes SIGTERM and SIGINT call stop().
    void handle_signals();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace aftershock::worker
