#include "aftershock/coordinator/coordinator.hpp"

#include "aftershock/coordinator/metrics.hpp"
#include "aftershock/coordinator/recall_estimator.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

namespace aftershock::coordinator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using nlohmann::json;

namespace {

struct HttpAnswer {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
};

HttpAnswer error_answer(const ApiError& e) { return {e.status(), e.body()}; }

HttpAnswer error_answer(int status, const std::string& code, const std::string& message) {
    return error_answer(ApiError(status, code, message));
}

json outcome_json(const SearchOutcome& o) {
    json hits = json::array();
    for (std::size_t i = 0; i < o.hits.size(); ++i) {
        hits.push_back({{"id", o.ids[i]}, {"doc", o.hits[i].doc}, {"score", o.hits[i].score}});
    }
    return {{"hits", std::move(hits)},
            {"coverage", {{"shards", o.shards}, {"answered", o.answered}}},
            {"partial", o.partial()},
            {"took_ms", o.took_ms},
            {"search_ms", o.search_ms}};
}

/// Status for an outcome: 200 (complete or partial within min_coverage), 501 when a shard failed because no
/// replica can serve this kind of request (each one tried answered `unsupported`: asking again will not help),
/// 504 when the deadline cut coverage below min_coverage, 503 when shards failed.
int outcome_status(const SearchOutcome& o) {
    if (o.coverage_ok) return 200;
    if (o.unsupported) return 501;
    return o.deadline_hit ? 504 : 503;
}

const char* outcome_code(int status) {
    switch (status) {
    case 501: return "unsupported";
    case 504: return "deadline_exceeded";
    default: return "insufficient_coverage";
    }
}

HttpAnswer coverage_error(const SearchOutcome& o) {
    const auto status = outcome_status(o);
    const auto msg = fmt::format("{} of {} shards answered, below min_coverage{}{}", o.answered, o.shards,
                                 o.first_error.empty() ? "" : "; ", o.first_error);
    auto body = json{{"error", {{"code", outcome_code(status)}, {"message", msg}}},
                     {"coverage", {{"shards", o.shards}, {"answered", o.answered}}}};
    return {status, body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

}  // namespace

struct Coordinator::Impl {
    CoordinatorOptions opt;
    std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
    CoordinatorMetrics metrics{*registry};
    ClusterState cluster;
    RecallEstimator recall;
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    std::vector<std::unique_ptr<Router>> routers;  ///< one per context
    std::unique_ptr<Router> health_router;         ///< context 0, own connections so probes never queue behind searches
    tcp::acceptor acceptor;
    asio::signal_set signals;
    std::atomic<std::size_t> next_context{0};
    std::atomic<std::size_t> connections{0};
    std::atomic<bool> stopping{false};
    std::optional<text::QueryEncoder> encoder;

    explicit Impl(CoordinatorOptions o)
        : opt(std::move(o)), cluster(opt.workers), recall(opt.recall_sample, opt.recall_window),
          acceptor(make_contexts(opt.io_threads)), signals(*contexts[0]) {
        if (!opt.vocab.empty()) {
            encoder.emplace(load_query_encoder(opt.vocab));
            spdlog::info("vocabulary {}: {} tokens{}", opt.vocab, encoder->dim(), encoder->stats() ? " with idf" : "");
        }
        ensure<UsageError>(!opt.workers.empty(), "no workers given (--workers host:port,...)");
        for (auto& c : contexts) {
            guards.push_back(asio::make_work_guard(*c));
            routers.push_back(std::make_unique<Router>(c->get_executor(), cluster, metrics, opt.router));
        }
        health_router = std::make_unique<Router>(contexts[0]->get_executor(), cluster, metrics, opt.router);
        const auto hp = parse_host_port(opt.listen);
        tcp::resolver resolver(*contexts[0]);
        boost::system::error_code ec;
        const auto endpoints = resolver.resolve(hp.host, std::to_string(hp.port), ec);
        ensure<UsageError>(!ec && !endpoints.empty(), "--listen {}: cannot resolve: {}", opt.listen, ec.message());
        const tcp::endpoint ep = *endpoints.begin();
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep, ec);
        ensure(!ec, "--listen {}: cannot bind: {}", opt.listen, ec.message());
        acceptor.listen(asio::socket_base::max_listen_connections);
    }

    asio::io_context& make_contexts(unsigned n) {
        for (unsigned i = 0; i < std::max(1U, n); ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
        return *contexts[0];
    }

    // ---- HTTP ----

    awaitable<void> accept_loop() {
        for (;;) {
            auto& ctx = *contexts[next_context.fetch_add(1) % contexts.size()];
            boost::system::error_code ec;
            auto socket = co_await acceptor.async_accept(ctx, asio::redirect_error(use_awaitable, ec));
            if (ec) {
                if (stopping) co_return;
                spdlog::warn("accept failed: {}", ec.message());
                continue;
            }
            if (connections.load() >= opt.max_connections) {
                metrics.http_rejected_connections.Increment();
                socket.close(ec);
                continue;
            }
            ++connections;
            metrics.http_connections.Increment();
            asio::co_spawn(ctx, session(std::move(socket)), asio::detached);
        }
    }

    Router& router_for(const asio::any_io_executor& ex) {
        for (auto& r : routers) {
            if (r->executor() == ex) return *r;
        }
        return *routers[0];
    }

    /// One HTTP or HTTPS connection (CoordinatorOptions::tls). A failed or slow TLS handshake is counted and
    /// closes only that connection.
    awaitable<void> session(tcp::socket socket) {
        if (opt.tls) {
            beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *opt.tls);
            beast::get_lowest_layer(stream).expires_after(opt.tls_handshake_timeout);
            boost::system::error_code ec;
            co_await stream.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
            if (ec) {
                metrics.tls_handshake_failures.Increment();
                spdlog::debug("TLS handshake failed: {}", ec.message());
            } else {
                co_await serve(stream);
            }
            // No close_notify exchange: every answer is length-delimited, so a truncation cannot go unnoticed.
            close(beast::get_lowest_layer(stream).socket());
        } else {
            beast::tcp_stream stream(std::move(socket));
            co_await serve(stream);
            close(stream.socket());
        }
        --connections;
        metrics.http_connections.Decrement();
    }

    static void close(tcp::socket& socket) {
        boost::system::error_code ec;
        socket.shutdown(tcp::socket::shutdown_send, ec);
        socket.close(ec);
    }

    /// Keep-alive request loop over a beast::tcp_stream or an ssl_stream of one.
    template <typename Stream>
    awaitable<void> serve(Stream& stream) {
        beast::flat_buffer buffer;
        auto& router = router_for(co_await asio::this_coro::executor);
        auto& tcp_stream = beast::get_lowest_layer(stream);
        try {
            for (;;) {
                http::request_parser<http::string_body> parser;
                parser.body_limit(opt.max_body_bytes);
                parser.header_limit(16 * 1024);
                // Idle keep-alive connections and slow senders both end at the timeout.
                tcp_stream.expires_after(buffer.size() > 0 ? opt.read_timeout : opt.idle_timeout);
                boost::system::error_code ec;
                co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
                if (!ec) {
                    tcp_stream.expires_after(opt.read_timeout);
                    co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
                }
                if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
                    ec == asio::error::connection_reset || ec == asio::error::operation_aborted || ec == asio::ssl::error::stream_truncated) {
                    break;
                }
                if (ec) {
                    const bool too_big = ec == http::error::body_limit || ec == http::error::header_limit;
                    const auto answer = too_big ? error_answer(413, "body_too_large", fmt::format("request larger than {} bytes", opt.max_body_bytes))
                                                : error_answer(400, "bad_http", "malformed HTTP request: " + ec.message());
                    metrics.request("invalid", answer.status, 0.0);
                    co_await write(stream, answer, 11, false);
                    break;
                }
                auto req = parser.release();
                const auto start = Clock::now();
                std::string endpoint;
                auto answer = co_await handle(router, req, endpoint);
                metrics.request(endpoint, answer.status, std::chrono::duration<double>(Clock::now() - start).count());
                const bool keep = req.keep_alive() && !stopping;
                tcp_stream.expires_after(opt.read_timeout);
                co_await write(stream, answer, req.version(), keep);
                if (!keep) break;
            }
        } catch (const std::exception& e) {
            spdlog::debug("http session: {}", e.what());
        }
    }

    template <typename Stream>
    static awaitable<void> write(Stream& stream, const HttpAnswer& a, unsigned version, bool keep_alive) {
        http::response<http::string_body> res{static_cast<http::status>(a.status), version};
        res.set(http::field::server, "aftershock");
        res.set(http::field::content_type, a.content_type);
        if (a.status == 405) res.set(http::field::allow, "POST");
        if (a.status == 401) res.set(http::field::www_authenticate, R"(Bearer realm="aftershock")");
        res.keep_alive(keep_alive);
        res.body() = a.body;
        res.prepare_payload();
        boost::system::error_code ec;
        co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    }

    awaitable<HttpAnswer> handle(Router& router, const http::request<http::string_body>& req, std::string& endpoint) {
        const auto target = std::string(req.target().substr(0, req.target().find('?')));
        const auto method = req.method();
        const auto need = [&](http::verb v) {
            if (method != v) throw ApiError(405, "method_not_allowed", fmt::format("{} needs {}", target, std::string(http::to_string(v))));
        };
        endpoint = target;
        try {
            const bool open = target == "/healthz" || target == "/readyz" || (target == "/metrics" && opt.metrics_public);
            if (!open && !opt.auth.allows(std::string_view(req[http::field::authorization]))) {
                // One answer for a missing, malformed or wrong token: nothing tells which.
                co_return error_answer(401, "unauthorized", "missing or invalid bearer token");
            }
            if (target == "/v1/search") {
                need(http::verb::post);
                co_return co_await search(router, req.body());
            }
            if (target == "/v1/search/batch") {
                need(http::verb::post);
                co_return co_await search_batch(router, req.body());
            }
            if (target == "/v1/cluster") {
                need(http::verb::get);
                co_return HttpAnswer{200, cluster.describe().dump()};
            }
            if (target == "/healthz") {
                need(http::verb::get);
                co_return HttpAnswer{200, R"({"status":"ok"})"};
            }
            if (target == "/readyz") {
                need(http::verb::get);
                if (cluster.ready()) co_return HttpAnswer{200, R"({"status":"ready"})"};
                co_return error_answer(503, "not_ready", "not every shard has a live replica");
            }
            if (target == "/metrics") {
                need(http::verb::get);
                co_return HttpAnswer{200, prometheus::TextSerializer().Serialize(registry->Collect()),
                                     "text/plain; version=0.0.4"};
            }
            endpoint = "other";
            co_return error_answer(404, "not_found", fmt::format("no endpoint {}", target));
        } catch (const ApiError& e) {
            co_return error_answer(e);
        } catch (const std::exception& e) {
            spdlog::error("{} {}: {}", std::string(http::to_string(method)), target, e.what());
            co_return error_answer(500, "internal", e.what());
        }
    }

    /// What queries are validated against. Until a worker has told the coordinator what the index holds (just after a
    /// start or restart) there is nothing to validate against: 503, not a 4xx blaming a correct query.
    IndexFacts learned_facts() const {
        if (cluster.n_shards() == 0) throw ApiError(503, "not_ready", "no worker has described the index yet; retry shortly");
        return cluster.facts();
    }

    awaitable<HttpAnswer> search(Router& router, const std::string& body) {
        const auto q = parse_search(body, opt.limits, learned_facts(), encoder ? &*encoder : nullptr);
        auto o = co_await router.search(q);
        co_return finish(router, q, o);
    }

    HttpAnswer finish(Router& router, const SearchQuery& q, const SearchOutcome& o) {
        if (!o.coverage_ok) return coverage_error(o);
        if (o.partial()) metrics.partial_responses.Increment();
        // Pipelines are not sampled: they have no exact oracle (an exact first round would change their feedback).
        if (!q.exact && !q.is_pipeline() && !o.partial() && recall.sample()) asio::co_spawn(router.executor(), shadow(router, q, o), asio::detached);
        return {200, outcome_json(o).dump(-1, ' ', false, json::error_handler_t::replace)};
    }

    awaitable<HttpAnswer> search_batch(Router& router, const std::string& body) {
        const auto qs = parse_search_batch(body, opt.limits, learned_facts(), encoder ? &*encoder : nullptr);
        // Every query runs concurrently; the last to finish wakes this coroutine.
        auto ex = co_await asio::this_coro::executor;
        auto done = std::make_shared<asio::steady_timer>(ex, Clock::time_point::max());
        auto remaining = std::make_shared<std::size_t>(qs.size());
        auto outcomes = std::make_shared<std::vector<SearchOutcome>>(qs.size());
        for (std::size_t i = 0; i < qs.size(); ++i) {
            asio::co_spawn(ex, [&router, &qs, i, done, remaining, outcomes]() -> awaitable<void> {
                (*outcomes)[i] = co_await router.search(qs[i]);
                if (--*remaining == 0) done->cancel();
            }, asio::detached);
        }
        boost::system::error_code ec;
        co_await done->async_wait(asio::redirect_error(use_awaitable, ec));
        json results = json::array();
        for (std::size_t i = 0; i < qs.size(); ++i) {
            const auto a = finish(router, qs[i], (*outcomes)[i]);
            results.push_back(json::parse(a.body));
        }
        co_return HttpAnswer{200, json{{"results", std::move(results)}}.dump(-1, ' ', false, json::error_handler_t::replace)};
    }

    /// Re-runs a served query exactly and feeds the recall window of its mode.
    awaitable<void> shadow(Router& router, SearchQuery q, SearchOutcome served) {
        q.exact = true;
        q.min_coverage = 1.0;
        q.timeout_ms = static_cast<std::uint32_t>(opt.recall_timeout.count());
        const auto exact = co_await router.search(q);
        if (exact.partial() || !exact.coverage_ok) co_return;
        std::vector<std::uint64_t> got;
        std::vector<std::uint64_t> want;
        for (const auto& h : served.hits) got.push_back(h.doc);
        for (const auto& h : exact.hits) want.push_back(h.doc);
        const auto mean = recall.add(served.mode, recall_at_k(got, want));
        metrics.recall_estimate.Add({{"mode", served.mode}}).Set(mean);
        metrics.recall_samples.Add({{"mode", served.mode}}).Increment();
    }

    // ---- workers ----

    awaitable<void> health_loop(std::size_t w) {
        asio::steady_timer timer(*contexts[0]);
        bool was_up = false;
        std::string last_why;
        while (!stopping) {
            bool up = false;
            std::string why;
            if (!was_up) {
                // (Re)learn what the worker serves whenever it comes back: it may have been restarted.
                auto info = co_await health_router->probe(w, wire::encode_info_request(0), opt.health_timeout);
                if (info.kind == Reply::Kind::answer && info.type == wire::MessageType::info_response) {
                    try {
                        cluster.set_info(w, parse_worker_info(wire::decode_info_response(info.payload)));
                    } catch (const std::exception& e) {
                        why = e.what();
                    }
                } else {
                    why = info.failure.empty() ? "no info answer" : info.failure;
                }
            }
            if (cluster.known(w)) {
                auto h = co_await health_router->probe(w, wire::encode_health_request(0), opt.health_timeout);
                if (h.kind == Reply::Kind::answer && h.type == wire::MessageType::health_response) {
                    try {
                        up = wire::decode_health_response(h.payload).ready;
                        if (!up) why = "worker is not ready (shutting down)";
                    } catch (const std::exception& e) {
                        why = e.what();
                    }
                } else {
                    why = h.failure.empty() ? "no health answer" : h.failure;
                }
            }
            if (up) {
                cluster.mark_healthy(w);
            } else if (!cluster.mark_unhealthy(w, why) && why != last_why) {
                // Not a fall from up (that is logged there): a worker not reachable yet, or for a new reason (a TLS
                // or shared-secret failure, say). Once per reason, not once per probe.
                spdlog::warn("worker {} unavailable: {}", cluster.address(w).str(), why);
            }
            last_why = up ? "" : why;
            was_up = up;
            update_cluster_gauges(w, up);
            timer.expires_after(opt.health_interval);
            boost::system::error_code ec;
            co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
        }
    }

    void update_cluster_gauges(std::size_t w, bool up) {
        metrics.worker_up.Add({{"worker", cluster.address(w).str()}}).Set(up ? 1.0 : 0.0);
        const auto live = cluster.live_replica_counts();
        const auto docs = cluster.shard_documents();
        for (std::size_t s = 0; s < live.size(); ++s) {
            metrics.live_replicas.Add({{"shard", std::to_string(s)}}).Set(static_cast<double>(live[s]));
            metrics.index_documents.Add({{"shard", std::to_string(s)}}).Set(static_cast<double>(docs[s]));
        }
    }

    void shutdown() {
        if (stopping.exchange(true)) return;
        spdlog::info("coordinator stopping");
        asio::post(*contexts[0], [this] {
            boost::system::error_code ec;
            acceptor.close(ec);
            signals.cancel(ec);
        });
        // Give in-flight requests a moment to finish, then stop every context (keep-alive sessions included).
        asio::co_spawn(*contexts[0], [this]() -> awaitable<void> {
            asio::steady_timer t(*contexts[0], std::chrono::milliseconds(300));
            boost::system::error_code ec;
            co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
            for (auto& c : contexts) c->stop();
        }, asio::detached);
    }
};

Coordinator::Coordinator(CoordinatorOptions options) : m_impl(std::make_unique<Impl>(std::move(options))) {}
Coordinator::~Coordinator() = default;

std::uint16_t Coordinator::port() const noexcept { return m_impl->acceptor.local_endpoint().port(); }

void Coordinator::run() {
    auto& impl = *m_impl;
    asio::co_spawn(*impl.contexts[0], impl.accept_loop(), asio::detached);
    for (std::size_t w = 0; w < impl.cluster.n_workers(); ++w) asio::co_spawn(*impl.contexts[0], impl.health_loop(w), asio::detached);
    spdlog::info("coordinator listening on {}://{}:{} ({} I/O threads, {} workers{}{})", impl.opt.tls ? "https" : "http",
                 impl.acceptor.local_endpoint().address().to_string(), port(), impl.contexts.size(), impl.cluster.n_workers(),
                 impl.opt.router.worker_security.tls ? ", TLS to workers" : "",
                 impl.opt.router.worker_security.shared_secret.empty() ? "" : ", shared secret");
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < impl.contexts.size(); ++i) threads.emplace_back([&impl, i] { impl.contexts[i]->run(); });
    impl.contexts[0]->run();
    for (auto& t : threads) t.join();
    spdlog::info("coordinator stopped");
}

void Coordinator::stop() { m_impl->shutdown(); }

void Coordinator::handle_signals() {
    m_impl->signals.add(SIGTERM);
    m_impl->signals.add(SIGINT);
    m_impl->signals.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (!ec) {
            spdlog::info("signal {}: stopping", sig);
            stop();
        }
    });
}

}  // namespace aftershock::coordinator
