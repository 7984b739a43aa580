#pragma once
// One pipelined connection from a coordinator I/O thread to one worker: requests are numbered, written in
// order, and answered in any order; each caller waits for its own answer or its deadline. Connects lazily
// and again after a failure. Single-threaded: use it only from its executor's thread.
#include "aftershock/common/host_port.hpp"
#include "aftershock/common/net/stream.hpp"
#include "aftershock/common/net/tls.hpp"
#include "aftershock/common/wire/protocol.hpp"

#include <boost/asio.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace aftershock::coordinator {

struct Reply {
    enum class Kind { answer, failed, timeout };
    Kind kind = Kind::failed;
    wire::MessageType type = wire::MessageType::error_response;
    std::vector<std::byte> payload;  ///< when kind == answer
    std::string failure;             ///< when kind != answer
};

/// How connections to workers are secured (both optional; a connection is ready only once both passed).
struct WorkerSecurity {
    std::shared_ptr<net::TlsContext> tls;  ///< null: plain TCP (see net::make_client_tls)
    std::string shared_secret;             ///< non-empty: answer the worker's challenge (wire/auth.hpp)
};

class WorkerConnection {
public:
    using Clock = std::chrono::steady_clock;
    WorkerConnection(boost::asio::any_io_executor ex, HostPort address, std::chrono::milliseconds connect_timeout,
                     std::uint32_t max_frame_bytes, WorkerSecurity security = {});
    ~WorkerConnection();
    WorkerConnection(const WorkerConnection&) = delete;
    WorkerConnection& operator=(const WorkerConnection&) = delete;

    /// Sends `frame` (its request id is assigned here) and waits for the matching answer until `deadline`.
    boost::asio::awaitable<Reply> call(std::vector<std::byte> frame, Clock::time_point deadline);
    [[nodiscard]] bool connected() const noexcept { return m_state == State::connected; }
    [[nodiscard]] const HostPort& address() const noexcept { return m_address; }
    void close(const std::string& why);

private:
    enum class State { idle, connecting, connected };
    struct Pending;
    boost::asio::awaitable<bool> ensure_connected(Clock::time_point deadline, std::string& why);
    /// After the TCP connect: TLS handshake, shared-secret challenge (each when configured) before `timer`.
    boost::asio::awaitable<void> secure(boost::asio::steady_timer& timer);
    boost::asio::awaitable<void> read_loop(std::uint64_t generation);
    boost::asio::awaitable<void> write_loop(std::uint64_t generation);
    void send(std::vector<std::byte> frame);
    void fail_all(const std::string& why);

    boost::asio::any_io_executor m_ex;
    HostPort m_address;
    std::chrono::milliseconds m_connect_timeout;
    std::uint32_t m_max_frame_bytes;
    WorkerSecurity m_security;
    net::Stream m_socket;  ///< plain TCP, or TLS over it
    boost::asio::steady_timer m_connect_done;  ///< callers waiting for a connect in progress wait on this
    State m_state = State::idle;
    std::uint64_t m_generation = 0;  ///< bumped per connection, so loops of an old socket stand down
    std::uint64_t m_next_id = 0;
    std::string m_last_error;
    std::unordered_map<std::uint64_t, std::shared_ptr<Pending>> m_pending;
    std::deque<std::vector<std::byte>> m_out;
    bool m_writing = false;
    std::shared_ptr<bool> m_alive;  ///< lets detached loops notice the connection object is gone
};

}  // namespace aftershock::coordinator
