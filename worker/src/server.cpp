#include "aftershock/worker/server.hpp"

#include "aftershock/common/host_port.hpp"
#include "aftershock/common/net/stream.hpp"
#include "aftershock/common/parallel.hpp"
#include "aftershock/common/wire/frame_buffer.hpp"

#include <boost/asio.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <set>
#include <thread>

namespace aftershock::worker {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

/// Worker-side metrics (DESIGN.md §8): request counts by type and outcome, search time, work per query.
struct WorkerMetrics {
    explicit WorkerMetrics(prometheus::Registry& r)
        : requests(prometheus::BuildCounter().Name("aftershock_worker_requests_total")
                       .Help("Requests handled by the shard server, by message type and outcome").Register(r)),
          search_seconds(prometheus::BuildHistogram().Name("aftershock_worker_search_duration_seconds")
                             .Help("Time spent searching one request on its shard (excludes queueing)").Register(r)),
          queue_seconds(prometheus::BuildHistogram().Name("aftershock_worker_queue_duration_seconds")
                            .Help("Time a search request waited for a search thread").Register(r)),
          work(prometheus::BuildCounter().Name("aftershock_worker_work_total")
                   .Help("Work done by searches: postings read, blocks evaluated, documents scored").Register(r)),
          queries(prometheus::BuildCounter().Name("aftershock_worker_queries_total")
                      .Help("Queries searched (a batch request carries several)").Register(r)),
          protocol_errors(prometheus::BuildCounter().Name("aftershock_worker_protocol_errors_total")
                              .Help("Connections closed for malformed frames, timeouts or the connection cap").Register(r)),
          connections(prometheus::BuildGauge().Name("aftershock_worker_connections")
                          .Help("Open coordinator connections").Register(r).Add({})),
          in_flight(prometheus::BuildGauge().Name("aftershock_worker_in_flight_requests")
                        .Help("Search requests received and not yet answered").Register(r).Add({})),
          documents(prometheus::BuildGauge().Name("aftershock_index_documents")
                        .Help("Documents in each shard this process serves").Register(r)) {}

    prometheus::Family<prometheus::Counter>& requests;
    prometheus::Family<prometheus::Histogram>& search_seconds;
    prometheus::Family<prometheus::Histogram>& queue_seconds;
    prometheus::Family<prometheus::Counter>& work;
    prometheus::Family<prometheus::Counter>& queries;
    prometheus::Family<prometheus::Counter>& protocol_errors;
    prometheus::Gauge& connections;
    prometheus::Gauge& in_flight;
    prometheus::Family<prometheus::Gauge>& documents;

    static prometheus::Histogram::BucketBoundaries latency_buckets() {
        return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};
    }
    void count(const char* type, const char* outcome) { requests.Add({{"type", type}, {"outcome", outcome}}).Increment(); }
    void protocol_error(const char* reason) { protocol_errors.Add({{"reason", reason}}).Increment(); }
};

}  // namespace

struct Server::Impl {
    const ShardService& service;
    ServerOptions opt;
    WorkerMetrics metrics;
    asio::io_context io{1};
    asio::thread_pool pool;
    tcp::acceptor acceptor{io};
    asio::signal_set signals{io};
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> in_flight{0};

    struct Connection : std::enable_shared_from_this<Connection> {
        Connection(tcp::socket s, std::uint32_t max_frame_bytes, net::TlsContext* tls)
            : socket(std::move(s), tls), watchdog(socket.get_executor()), in(max_frame_bytes) {}
        net::Stream socket;  ///< plain TCP, or TLS over it (ServerOptions::tls)
        // Timeouts without a timer per read: the read loop moves `deadline`; a watchdog coroutine sleeps until
        // it and closes the socket once it has passed (only shortening it re-arms the timer).
        asio::steady_timer watchdog;
        Clock::time_point deadline = Clock::time_point::max();
        bool mid_frame = false;  ///< the deadline guards a started frame (a stall is a protocol error)
        wire::FrameBuffer in;
        std::deque<std::vector<std::byte>> out;
        bool writing = false;
        bool closed = false;
        void expect_by(Clock::time_point when, bool in_frame) {
            mid_frame = in_frame;
            const bool sooner = when < deadline;
            deadline = when;
            if (sooner) watchdog.cancel();  // the watchdog re-reads the deadline
        }
        void close() {
            if (closed) return;
            closed = true;
            boost::system::error_code ignored;
            socket.shutdown(tcp::socket::shutdown_both, ignored);
            socket.close(ignored);
            watchdog.cancel();
        }
    };
    std::set<std::shared_ptr<Connection>> connections;

    Impl(const ShardService& s, ServerOptions o, prometheus::Registry& r)
        : service(s), opt(std::move(o)), metrics(r), pool(resolve_threads(opt.threads)) {
        const auto hp = parse_host_port(opt.listen);
        tcp::resolver resolver(io);
        boost::system::error_code ec;
        const auto endpoints = resolver.resolve(hp.host, std::to_string(hp.port), ec);
        ensure<UsageError>(!ec && !endpoints.empty(), "--listen {}: cannot resolve: {}", opt.listen, ec.message());
        const tcp::endpoint ep = *endpoints.begin();
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep, ec);
        ensure(!ec, "--listen {}: cannot bind: {}", opt.listen, ec.message());
        acceptor.listen(asio::socket_base::max_listen_connections);
        for (const auto& a : opt.allow_from) {
            boost::system::error_code bad;
            (void)asio::ip::make_address(a, bad);
            ensure<UsageError>(!bad, "--allow-from: '{}' is not an IP address", a);
        }
        for (const auto& [id, sh] : service.shards()) {
            metrics.documents.Add({{"shard", std::to_string(id)}}).Set(static_cast<double>(sh.meta.doc_end - sh.meta.doc_begin));
        }
    }

    awaitable<void> accept_loop() {
        for (;;) {
            boost::system::error_code ec;
            auto socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
            if (ec) {
                if (stopping) co_return;
                spdlog::warn("accept failed: {}", ec.message());
                continue;
            }
            if (!allowed(socket)) {
                metrics.protocol_error("peer_not_allowed");
                socket.close(ec);
                continue;
            }
            if (connections.size() >= opt.max_connections) {
                metrics.protocol_error("connection_cap");
                socket.close(ec);
                continue;
            }
            socket.set_option(tcp::no_delay(true), ec);
            socket.non_blocking(true, ec);  // send() writes directly and must never block the network thread
            auto conn = std::make_shared<Connection>(std::move(socket), opt.max_frame_bytes, opt.tls.get());
            connections.insert(conn);
            metrics.connections.Increment();
            asio::co_spawn(io, session(conn), asio::detached);
            asio::co_spawn(io, watchdog(conn), asio::detached);
        }
    }

    /// --allow-from: only the configured coordinator addresses may connect.
    bool allowed(const tcp::socket& socket) const {
        if (opt.allow_from.empty()) return true;
        boost::system::error_code ec;
        const auto peer = socket.remote_endpoint(ec);
        if (ec) return false;
        auto addr = peer.address();
        if (addr.is_v6() && addr.to_v6().is_v4_mapped()) addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
        return std::any_of(opt.allow_from.begin(), opt.allow_from.end(), [&](const std::string& a) {
            boost::system::error_code bad;
            const auto want = asio::ip::make_address(a, bad);
            return !bad && want == addr;
        });
    }

    awaitable<void> session(std::shared_ptr<Connection> conn) {
        const char* refused = co_await admit(conn);
        if (refused == nullptr) {
            co_await read_loop(conn);
            co_return;
        }
        metrics.protocol_error(refused);
        spdlog::debug("refused a connection: {}", refused);
        finish(conn);
    }

    /// Before the first request: the TLS handshake, then the shared-secret challenge (docs/PROTOCOL.md), each
    /// when configured, together within the frame timeout (the watchdog closes a connection stalling here).
    /// nullptr when admitted, else the reason to count. Each co_await is a statement of its own, arguments by
    /// value: a first version with co_awaits inside conditions crashed under GCC 12 (a dangling argument).
    awaitable<const char*> admit(std::shared_ptr<Connection> conn) {
        if (conn->socket.tls() == nullptr && opt.shared_secret.empty()) co_return nullptr;
        conn->expect_by(Clock::now() + opt.frame_timeout, false);
        boost::system::error_code ec;
        if (conn->socket.tls() != nullptr) {
            co_await conn->socket.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
            if (ec) {
                spdlog::debug("TLS handshake failed: {}", ec.message());
                co_return "tls_handshake";
            }
        }
        if (opt.shared_secret.empty()) co_return nullptr;
        const auto nonce = wire::make_auth_nonce();
        const auto challenge = wire::encode_auth_challenge(nonce);
        co_await asio::async_write(conn->socket, asio::buffer(challenge), asio::redirect_error(use_awaitable, ec));
        // The answer is read through the connection's buffer: requests pipelined behind it stay there.
        std::optional<wire::FrameBuffer::Frame> frame;
        while (!ec) {
            try {
                frame = conn->in.next();
            } catch (const wire::ProtocolError&) {
                co_return "auth_missing";
            }
            if (frame) break;
            const auto room = conn->in.writable();
            const auto n = co_await conn->socket.async_read_some(asio::buffer(room.data(), room.size()), asio::redirect_error(use_awaitable, ec));
            conn->in.commit(ec ? 0 : n);
        }
        if (ec) co_return "auth_missing";
        const char* refused = nullptr;
        if (frame->header.type != wire::MessageType::auth_response) {
            refused = "auth_missing";
        } else {
            try {
                if (!wire::check_auth_proof(opt.shared_secret, nonce, wire::decode_auth_response(frame->payload))) refused = "auth_failed";
            } catch (const wire::ProtocolError&) {
                refused = "auth_failed";
            }
        }
        // Said either way; a refusal before closing, so the client can log why (it learns nothing of the secret).
        const auto verdict = refused == nullptr ? wire::encode_auth_ok()
                                                : wire::encode(frame->header.request_id, wire::ErrorResponse{wire::ErrorCode::unauthorized,
                                                                                                              "the shared-secret handshake failed"});
        co_await asio::async_write(conn->socket, asio::buffer(verdict), asio::redirect_error(use_awaitable, ec));
        if (refused == nullptr && ec) refused = "auth_missing";
        co_return refused;
    }

    /// Closes a connection whose deadline passed: idle too long, or a frame that stalled half-way.
    awaitable<void> watchdog(std::shared_ptr<Connection> conn) {
        while (!conn->closed) {
            if (Clock::now() >= conn->deadline) {
                if (conn->mid_frame) metrics.protocol_error("truncated_frame");
                conn->close();
                break;
            }
            conn->watchdog.expires_at(conn->deadline);
            boost::system::error_code ec;
            co_await conn->watchdog.async_wait(asio::redirect_error(use_awaitable, ec));
        }
    }

    /// Reads into the connection's buffer and handles every complete frame in place: one read usually brings
    /// a whole request (or several pipelined ones), so a request costs one receive and no timer operation.
    awaitable<void> read_loop(std::shared_ptr<Connection> conn) {
        try {
            for (;;) {
                for (;;) {  // every complete frame already received
                    std::optional<wire::FrameBuffer::Frame> frame;
                    try {
                        frame = conn->in.next();
                    } catch (const wire::ProtocolError& e) {
                        metrics.protocol_error("bad_header");
                        spdlog::debug("closing connection: {}", e.what());
                        co_return finish(conn);
                    }
                    if (!frame) break;
                    if (!dispatch(conn, frame->header, frame->payload, conn->in.partial_bytes() > 0) || conn->closed) co_return finish(conn);
                }
                // The next frame may take up to the idle timeout to start; once started it must complete
                // within the frame timeout (a stalled half frame is counted, an idle link is not).
                const bool mid_frame = conn->in.partial_bytes() > 0;
                conn->expect_by(Clock::now() + (mid_frame ? opt.frame_timeout : opt.idle_timeout), mid_frame);
                const auto room = conn->in.writable();
                boost::system::error_code ec;
                const auto n = co_await conn->socket.async_read_some(asio::buffer(room.data(), room.size()), asio::redirect_error(use_awaitable, ec));
                if (ec) break;
                conn->in.commit(n);
            }
        } catch (const std::exception& e) {
            spdlog::debug("connection error: {}", e.what());
        }
        finish(conn);
    }

    void finish(const std::shared_ptr<Connection>& conn) {
        conn->close();
        if (connections.erase(conn) > 0) metrics.connections.Decrement();
    }

    /// Handles one frame; false when the connection must be closed.
    /// `more_pending`: further bytes are already buffered on this connection (a pipelined request follows).
    bool dispatch(const std::shared_ptr<Connection>& conn, const wire::FrameHeader& h, std::span<const std::byte> payload,
                  bool more_pending) {
        switch (h.type) {
        case wire::MessageType::health_request:
            metrics.count("health", "ok");
            send(conn, wire::encode(h.request_id, wire::HealthResponse{!stopping, static_cast<std::uint32_t>(service.shards().size()),
                                                                        in_flight.load()}));
            return true;
        case wire::MessageType::info_request:
            metrics.count("info", "ok");
            send(conn, wire::encode_info_response(h.request_id, service.info_json()));
            return true;
        case wire::MessageType::search_request:
            return accept<wire::SearchRequest>(conn, h, payload, more_pending, &wire::decode_search_request,
                                               [this](std::uint64_t id, const wire::SearchRequest& r, Clock::time_point t) {
                                                   return run_search(id, r, t);
                                               });
        case wire::MessageType::score_request:
            return accept<wire::ScoreRequest>(conn, h, payload, more_pending, &wire::decode_score_request,
                                              [this](std::uint64_t id, const wire::ScoreRequest& r, Clock::time_point t) {
                                                  return run_rows("score", id, r.timeout_ms, t, [&] { return wire::encode(id, service.score(r)); });
                                              });
        case wire::MessageType::fetch_request:
            return accept<wire::FetchRequest>(conn, h, payload, more_pending, &wire::decode_fetch_request,
                                              [this](std::uint64_t id, const wire::FetchRequest& r, Clock::time_point t) {
                                                  return run_rows("fetch", id, r.timeout_ms, t, [&] { return wire::encode(id, service.fetch(r)); });
                                              });
        default:
            metrics.protocol_error("unexpected_type");
            return false;
        }
    }

    /// Decodes a request and runs `handler`; false when the payload is malformed. An idle worker runs it right
    /// here on the network thread (two thread hand-offs fewer on the latency path); a busy one, or one with more
    /// requests already buffered, queues it on the search pool so requests still run in parallel.
    template <typename Request, typename Handler>
    bool accept(const std::shared_ptr<Connection>& conn, const wire::FrameHeader& h, std::span<const std::byte> payload,
                bool more_pending, Request (*decode)(std::span<const std::byte>), Handler handler) {
        Request req;
        try {
            req = decode(payload);
        } catch (const wire::ProtocolError& e) {
            metrics.protocol_error("bad_payload");
            spdlog::debug("closing connection: {}", e.what());
            return false;
        }
        if (stopping) {
            const char* label = h.type == wire::MessageType::search_request ? "search"
                                : h.type == wire::MessageType::score_request ? "score" : "fetch";
            metrics.count(label, "shutting_down");
            send(conn, wire::encode(h.request_id, wire::ErrorResponse{wire::ErrorCode::shutting_down, "worker is shutting down"}));
            return true;
        }
        const bool run_here = opt.inline_when_idle && !more_pending && in_flight.load() == 0 && opt.test_delay_ms == 0;
        ++in_flight;
        metrics.in_flight.Increment();
        const auto received = Clock::now();
        if (run_here) {
            send(conn, handler(h.request_id, req, received));
            --in_flight;
            metrics.in_flight.Decrement();
            return true;
        }
        asio::post(pool, [this, conn, id = h.request_id, req = std::move(req), received, handler]() mutable {
            auto frame = handler(id, req, received);
            asio::post(io, [this, conn, frame = std::move(frame)]() mutable {
                send(conn, std::move(frame));
                --in_flight;
                metrics.in_flight.Decrement();
            });
        });
        return true;
    }

    /// Runs a score or fetch request on a search thread: the same deadline and error mapping as searches.
    template <typename Run>
    std::vector<std::byte> run_rows(const char* what, std::uint64_t id, std::uint32_t timeout_ms, Clock::time_point received, Run&& run) {
        if (timeout_ms > 0 && Clock::now() - received > std::chrono::milliseconds(timeout_ms)) {
            metrics.count(what, "deadline");
            return wire::encode(id, wire::ErrorResponse{wire::ErrorCode::deadline, "request budget ran out before it started"});
        }
        try {
            auto frame = run();
            metrics.count(what, "ok");
            return frame;
        } catch (const RequestError& e) {
            metrics.count(what, wire::to_string(e.code()));
            return wire::encode(id, wire::ErrorResponse{e.code(), e.what()});
        } catch (const std::exception& e) {
            spdlog::error("{} failed: {}", what, e.what());
            metrics.count(what, "internal");
            return wire::encode(id, wire::ErrorResponse{wire::ErrorCode::internal, e.what()});
        }
    }

    /// Runs on a search thread.
    std::vector<std::byte> run_search(std::uint64_t id, const wire::SearchRequest& req, Clock::time_point received) {
        const auto started = Clock::now();
        metrics.queue_seconds.Add({}, WorkerMetrics::latency_buckets()).Observe(std::chrono::duration<double>(started - received).count());
        if (opt.test_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opt.test_delay_ms));
        const char* route = req.route == wire::Route::sparse ? (req.exact ? "sparse_exact" : "sparse")
                                                              : (req.exact ? "dense_exact" : "dense");
        if (req.timeout_ms > 0 && Clock::now() - received > std::chrono::milliseconds(req.timeout_ms)) {
            metrics.count("search", "deadline");
            return wire::encode(id, wire::ErrorResponse{wire::ErrorCode::deadline, "request budget ran out before the search started"});
        }
        try {
            auto resp = service.search(req);
            metrics.count("search", "ok");
            metrics.search_seconds.Add({{"route", route}}, WorkerMetrics::latency_buckets())
                .Observe(static_cast<double>(resp.search_ns) * 1e-9);
            metrics.queries.Add({{"route", route}}).Increment(static_cast<double>(req.queries.size()));
            metrics.work.Add({{"route", route}, {"kind", "postings"}}).Increment(static_cast<double>(resp.work.postings));
            metrics.work.Add({{"route", route}, {"kind", "blocks"}}).Increment(static_cast<double>(resp.work.blocks));
            metrics.work.Add({{"route", route}, {"kind", "docs_scored"}}).Increment(static_cast<double>(resp.work.docs_scored));
            return wire::encode(id, resp);
        } catch (const RequestError& e) {
            metrics.count("search", wire::to_string(e.code()));
            return wire::encode(id, wire::ErrorResponse{e.code(), e.what()});
        } catch (const std::exception& e) {
            spdlog::error("search failed: {}", e.what());
            metrics.count("search", "internal");
            return wire::encode(id, wire::ErrorResponse{wire::ErrorCode::internal, e.what()});
        }
    }

    /// Writes an answer: straight to the (non-blocking) socket when nothing is queued before it, else (or for
    /// what the socket did not take) through the connection's write loop, which keeps answers in order.
    void send(const std::shared_ptr<Connection>& conn, std::vector<std::byte> frame) {
        if (conn->closed) return;
        if (!conn->writing && conn->socket.tls() == nullptr) {  // (a TLS record must not be half written)
            boost::system::error_code ec;
            const auto n = conn->socket.write_some(asio::buffer(frame), ec);
            if (!ec && n == frame.size()) return;
            if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
                spdlog::debug("write failed: {}", ec.message());
                conn->close();
                return;
            }
            frame.erase(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(ec ? 0 : n));
        }
        conn->out.push_back(std::move(frame));
        if (!conn->writing) {
            conn->writing = true;
            asio::co_spawn(io, write_loop(conn), asio::detached);
        }
    }

    static awaitable<void> write_loop(std::shared_ptr<Connection> conn) {
        try {
            while (!conn->out.empty() && !conn->closed) {
                co_await asio::async_write(conn->socket, asio::buffer(conn->out.front()), use_awaitable);
                conn->out.pop_front();
            }
        } catch (const std::exception& e) {
            spdlog::debug("write failed: {}", e.what());
            conn->close();
        }
        conn->writing = false;
    }

    awaitable<void> drain() {
        boost::system::error_code ec;
        acceptor.close(ec);
        const auto deadline = Clock::now() + opt.drain_timeout;
        asio::steady_timer t(io);
        while (in_flight > 0 && Clock::now() < deadline) {
            t.expires_after(std::chrono::milliseconds(5));
            co_await t.async_wait(use_awaitable);
        }
        // Let the last answers reach their sockets.
        for (int i = 0; i < 100; ++i) {
            bool pending = false;
            for (const auto& c : connections) pending = pending || c->writing;
            if (!pending) break;
            t.expires_after(std::chrono::milliseconds(5));
            co_await t.async_wait(use_awaitable);
        }
        if (in_flight > 0) spdlog::warn("stopping with {} searches still running (drain timeout)", in_flight.load());
        for (const auto& c : connections) c->close();
        signals.cancel(ec);
        io.stop();
    }
};

Server::Server(const ShardService& service, ServerOptions options, prometheus::Registry& registry)
    : m_impl(std::make_unique<Impl>(service, std::move(options), registry)) {}

Server::~Server() {
    m_impl->pool.stop();
    m_impl->pool.join();
}

std::uint16_t Server::port() const noexcept { return m_impl->acceptor.local_endpoint().port(); }

void Server::run() {
    asio::co_spawn(m_impl->io, m_impl->accept_loop(), asio::detached);
    spdlog::info("worker listening on {}:{} ({} search threads{}{})", m_impl->acceptor.local_endpoint().address().to_string(),
                 port(), resolve_threads(m_impl->opt.threads), m_impl->opt.tls ? ", TLS" : "",
                 m_impl->opt.shared_secret.empty() ? "" : ", shared secret required");
    m_impl->io.run();
    m_impl->pool.join();
    spdlog::info("worker stopped");
}

void Server::stop() {
    asio::post(m_impl->io, [impl = m_impl.get()] {
        if (impl->stopping.exchange(true)) return;
        spdlog::info("stopping: draining {} in-flight searches", impl->in_flight.load());
        asio::co_spawn(impl->io, impl->drain(), asio::detached);
    });
}

void Server::handle_signals() {
    m_impl->signals.add(SIGTERM);
    m_impl->signals.add(SIGINT);
    m_impl->signals.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (!ec) {
            spdlog::info("signal {}: graceful stop", sig);
            stop();
        }
    });
}

}  // namespace aftershock::worker
