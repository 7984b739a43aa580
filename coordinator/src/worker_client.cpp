#include "aftershock/coordinator/worker_client.hpp"

#include "aftershock/common/wire/frame_buffer.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <spdlog/spdlog.h>

namespace aftershock::coordinator {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

struct WorkerConnection::Pending {
    explicit Pending(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::optional<Reply> reply;
};

WorkerConnection::WorkerConnection(asio::any_io_executor ex, HostPort address, std::chrono::milliseconds connect_timeout,
                                   std::uint32_t max_frame_bytes, WorkerSecurity security)
    : m_ex(std::move(ex)), m_address(std::move(address)), m_connect_timeout(connect_timeout),
      m_max_frame_bytes(max_frame_bytes), m_security(std::move(security)), m_socket(tcp::socket(m_ex)), m_connect_done(m_ex), m_alive(std::make_shared<bool>(true)) {}

WorkerConnection::~WorkerConnection() {
    *m_alive = false;
    boost::system::error_code ec;
    m_socket.close(ec);
}

void WorkerConnection::close(const std::string& why) { fail_all(why); }

void WorkerConnection::fail_all(const std::string& why) {
    if (m_state == State::connected) spdlog::debug("connection to {} closed: {}", m_address.str(), why);
    m_last_error = why;
    boost::system::error_code ec;
    m_socket.close(ec);
    m_state = State::idle;
    ++m_generation;
    m_out.clear();
    m_writing = false;  // a write loop of the old socket stands down on its own
    auto pending = std::move(m_pending);
    m_pending.clear();
    for (auto& [id, p] : pending) {
        p->reply = Reply{Reply::Kind::failed, wire::MessageType::error_response, {}, why};
        p->timer.cancel();
    }
}

awaitable<bool> WorkerConnection::ensure_connected(Clock::time_point deadline, std::string& why) {
    if (m_state == State::connected) co_return true;
    if (m_state == State::connecting) {
        // Another caller is connecting: wait for it (it cancels the timer when done).
        boost::system::error_code ec;
        co_await m_connect_done.async_wait(asio::redirect_error(use_awaitable, ec));
        why = m_last_error;
        co_return m_state == State::connected;
    }
    m_state = State::connecting;
    m_connect_done.expires_at(Clock::time_point::max());
    const auto alive = m_alive;
    bool ok = false;
    try {
        tcp::resolver resolver(m_ex);
        const auto endpoints = co_await resolver.async_resolve(m_address.host, std::to_string(m_address.port), use_awaitable);
        if (!*alive) co_return false;
        m_socket.reset(tcp::socket(m_ex), m_security.tls.get());
        asio::steady_timer timer(m_ex);
        timer.expires_at(std::min(deadline, Clock::now() + m_connect_timeout));
        boost::system::error_code ec;
        auto result = co_await (asio::async_connect(m_socket.socket(), endpoints, asio::redirect_error(use_awaitable, ec)) ||
                                timer.async_wait(use_awaitable));
        if (!*alive) co_return false;
        if (result.index() == 1) {
            m_last_error = "connect timed out";
        } else if (ec) {
            m_last_error = "connect: " + ec.message();
        } else {
            m_socket.socket().set_option(tcp::no_delay(true), ec);
            m_socket.non_blocking(true, ec);  // call() writes directly and must never block the I/O thread
            co_await secure(timer);  // throws with the reason
            if (!*alive) co_return false;
            ok = true;
        }
    } catch (const std::exception& e) {
        if (!*alive) co_return false;
        m_last_error = std::string("connect: ") + e.what();
    }
    if (ok) {
        m_state = State::connected;
        ++m_generation;
        asio::co_spawn(m_ex, read_loop(m_generation), asio::detached);
    } else {
        boost::system::error_code ec;
        m_socket.close(ec);
        m_state = State::idle;
    }
    why = m_last_error;
    m_connect_done.cancel();
    co_return ok;
}

namespace {

/// Runs one connection set-up step (`op` reports into `ec`) unless `timer` fires first; throws Error naming it.
template <typename T>
awaitable<void> step(awaitable<T> op, const boost::system::error_code& ec, asio::steady_timer& timer, const char* what) {
    const auto done = co_await (std::move(op) || timer.async_wait(use_awaitable));
    ensure(done.index() == 0, "{} timed out", what);
    ensure(!ec, "{}: {}", what, ec.message());
}

struct Frame {
    wire::FrameHeader header;
    std::vector<std::byte> payload;
};

/// Reads one whole frame during connection set-up.
awaitable<Frame> read_frame(net::Stream& s, std::uint32_t max_frame_bytes, asio::steady_timer& timer, const char* what) {
    std::array<std::byte, wire::kHeaderBytes> header{};
    boost::system::error_code ec;
    co_await step(asio::async_read(s, asio::buffer(header), asio::redirect_error(use_awaitable, ec)), ec, timer, what);
    const auto h = wire::decode_header(header, max_frame_bytes);
    std::vector<std::byte> payload(h.length);
    if (h.length > 0) co_await step(asio::async_read(s, asio::buffer(payload), asio::redirect_error(use_awaitable, ec)), ec, timer, what);
    co_return Frame{h, std::move(payload)};
}

}  // namespace

awaitable<void> WorkerConnection::secure(asio::steady_timer& timer) {
    const auto alive = m_alive;
    boost::system::error_code ec;
    if (m_socket.tls() != nullptr) {
        m_socket.set_peer_name(m_address.host);
        co_await step(m_socket.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(use_awaitable, ec)), ec, timer,
                      "TLS handshake");
    }
    if (m_security.shared_secret.empty() || !*alive) co_return;
    // docs/PROTOCOL.md, "Shared secret": nonce in, HMAC out, then auth_ok (or an unauthorized error and EOF).
    const auto challenge = co_await read_frame(m_socket, m_max_frame_bytes, timer,
                                               "waiting for the worker's shared-secret challenge (does it use --shared-secret-file?)");
    ensure<wire::ProtocolError>(challenge.header.type == wire::MessageType::auth_challenge, "expected the shared-secret challenge, got {}",
                                wire::to_string(challenge.header.type));
    const auto answer = wire::encode_auth_response(wire::auth_proof(m_security.shared_secret, wire::decode_auth_challenge(challenge.payload)));
    co_await step(asio::async_write(m_socket, asio::buffer(answer), asio::redirect_error(use_awaitable, ec)), ec, timer,
                  "sending the shared-secret answer");
    const auto verdict = co_await read_frame(m_socket, m_max_frame_bytes, timer, "waiting for the shared-secret verdict");
    if (verdict.header.type == wire::MessageType::error_response) {
        throw Error("the worker refused the shared secret: " + wire::decode_error_response(verdict.payload).message);
    }
    ensure<wire::ProtocolError>(verdict.header.type == wire::MessageType::auth_ok, "expected auth_ok, got {}",
                                wire::to_string(verdict.header.type));
}

awaitable<Reply> WorkerConnection::call(std::vector<std::byte> frame, Clock::time_point deadline) {
    const auto alive = m_alive;
    std::string why;
    if (!co_await ensure_connected(deadline, why)) {
        co_return Reply{Reply::Kind::failed, wire::MessageType::error_response, {}, why.empty() ? "not connected" : why};
    }
    if (!*alive) co_return Reply{Reply::Kind::failed, wire::MessageType::error_response, {}, "connection closed"};
    const auto id = ++m_next_id;
    wire::set_request_id(frame, id);
    auto pending = std::make_shared<Pending>(m_ex);
    pending->timer.expires_at(deadline);
    m_pending.emplace(id, pending);
    send(std::move(frame));
    boost::system::error_code ec;
    co_await pending->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!*alive) co_return Reply{Reply::Kind::failed, wire::MessageType::error_response, {}, "connection closed"};
    m_pending.erase(id);
    if (pending->reply) co_return std::move(*pending->reply);
    co_return Reply{Reply::Kind::timeout, wire::MessageType::error_response, {}, "deadline passed before the worker answered"};
}

void WorkerConnection::send(std::vector<std::byte> frame) {
    // Straight to the socket when nothing is queued before it (the usual case: a frame is far smaller than the
    // socket buffer); what the socket does not take goes through the write loop, which keeps frames in order.
    if (!m_writing && m_socket.tls() == nullptr) {  // (a TLS record must not be half written)
        boost::system::error_code ec;
        const auto n = m_socket.write_some(asio::buffer(frame), ec);
        if (!ec && n == frame.size()) return;
        if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
            fail_all("write: " + ec.message());
            return;
        }
        frame.erase(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(ec ? 0 : n));
    }
    m_out.push_back(std::move(frame));
    if (!m_writing) {
        m_writing = true;
        asio::co_spawn(m_ex, write_loop(m_generation), asio::detached);
    }
}

awaitable<void> WorkerConnection::write_loop(std::uint64_t generation) {
    const auto alive = m_alive;
    try {
        while (*alive && generation == m_generation && !m_out.empty()) {
            // Write the front element in place: it stays in the deque until written, so a failure mid-write
            // is not silently dropped (fail_all clears the queue and fails the callers).
            co_await asio::async_write(m_socket, asio::buffer(m_out.front()), use_awaitable);
            if (!*alive || generation != m_generation) co_return;
            m_out.pop_front();
        }
    } catch (const boost::system::system_error& e) {
        if (*alive && generation == m_generation) fail_all("write: " + e.code().message());
        co_return;
    }
    if (*alive && generation == m_generation) m_writing = false;
}

awaitable<void> WorkerConnection::read_loop(std::uint64_t generation) {
    const auto alive = m_alive;
    wire::FrameBuffer in(m_max_frame_bytes);
    std::string why = "connection closed by the worker";
    try {
        for (;;) {
            const auto room = in.writable();
            const auto n = co_await m_socket.async_read_some(asio::buffer(room.data(), room.size()), use_awaitable);
            if (!*alive || generation != m_generation) co_return;
            in.commit(n);
            while (const auto frame = in.next()) {
                if (frame->header.type == wire::MessageType::auth_challenge) {
                    throw Error("the worker requires a shared secret (start the coordinator with --shared-secret-file)");
                }
                const auto it = m_pending.find(frame->header.request_id);
                if (it == m_pending.end()) continue;  // its caller gave up (deadline); the late answer is dropped
                it->second->reply = Reply{Reply::Kind::answer, frame->header.type, {frame->payload.begin(), frame->payload.end()}, {}};
                it->second->timer.cancel();
                m_pending.erase(it);
            }
        }
    } catch (const boost::system::system_error& e) {
        why = e.code().message();
    } catch (const std::exception& e) {
        why = e.what();
    }
    if (*alive && generation == m_generation) fail_all(why);
}

}  // namespace aftershock::coordinator
