#pragma once
// A connection's byte stream: plain TCP, or TLS over the same TCP socket. It models Asio's AsyncReadStream /
// AsyncWriteStream (and the sync ones, for the CLI), so asio::async_read/async_write and Beast work on it
// unchanged. The choice costs one predictable branch per read or write *operation*: no virtual call, no
// per-byte work, no extra copy, and plain TCP does exactly what a bare tcp::socket does.
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace aftershock::net {

class Stream {
public:
    using tcp = boost::asio::ip::tcp;
    using executor_type = tcp::socket::executor_type;
    using TlsStream = boost::asio::ssl::stream<tcp::socket&>;
    using error_code = boost::system::error_code;

    /// Plain TCP over `socket`, or TLS over it when `tls` is given (then call async_handshake before any I/O).
    explicit Stream(tcp::socket socket, boost::asio::ssl::context* tls = nullptr);
    Stream(const Stream&) = delete;  // the TLS layer refers to m_socket: the object stays where it is
    Stream& operator=(const Stream&) = delete;

    /// Replaces the connection (reconnects): the old one is dropped, the new one is plain or TLS as above.
    void reset(tcp::socket socket, boost::asio::ssl::context* tls = nullptr);

    [[nodiscard]] tcp::socket& socket() noexcept { return m_socket; }
    [[nodiscard]] TlsStream* tls() noexcept { return m_tls.get(); }
    [[nodiscard]] executor_type get_executor() noexcept { return m_socket.get_executor(); }

    /// Client side: the name or IP address the server's certificate must carry (also sent as SNI for names).
    void set_peer_name(const std::string& host);

    template <typename Token>
    auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, Token&& token) {
        return m_tls->async_handshake(type, std::forward<Token>(token));
    }
    void handshake(boost::asio::ssl::stream_base::handshake_type type) { m_tls->handshake(type); }

    template <typename Buffers, typename Token>
    auto async_read_some(const Buffers& buffers, Token&& token) {
        return initiate(buffers, std::forward<Token>(token), [](auto& layer, const Buffers& b, auto handler) {
            layer.async_read_some(b, std::move(handler));
        });
    }
    template <typename Buffers, typename Token>
    auto async_write_some(const Buffers& buffers, Token&& token) {
        return initiate(buffers, std::forward<Token>(token), [](auto& layer, const Buffers& b, auto handler) {
            layer.async_write_some(b, std::move(handler));
        });
    }

    template <typename Buffers>
    std::size_t read_some(const Buffers& b, error_code& ec) { return m_tls ? m_tls->read_some(b, ec) : m_socket.read_some(b, ec); }
    template <typename Buffers>
    std::size_t read_some(const Buffers& b) { return m_tls ? m_tls->read_some(b) : m_socket.read_some(b); }
    template <typename Buffers>
    std::size_t write_some(const Buffers& b, error_code& ec) { return m_tls ? m_tls->write_some(b, ec) : m_socket.write_some(b, ec); }
    template <typename Buffers>
    std::size_t write_some(const Buffers& b) { return m_tls ? m_tls->write_some(b) : m_socket.write_some(b); }

    /// Same as tcp::socket's. Non-blocking mode: the direct write_some of a TLS stream is not supported (a
    /// would-block write could leave a record half sent); async reads and writes handle it either way.
    void non_blocking(bool mode, error_code& ec) { m_socket.non_blocking(mode, ec); }
    /// Same as tcp::socket's: ends the TCP connection (TLS sessions are not resumed, so no close_notify wait).
    void shutdown(tcp::socket::shutdown_type what, error_code& ec) { m_socket.shutdown(what, ec); }
    void close(error_code& ec) { m_socket.close(ec); }

private:
    /// Starts `op` (a read or a write) on the TLS layer or on the socket: the one branch per operation.
    template <typename Buffers, typename Token, typename Op>
    auto initiate(const Buffers& buffers, Token&& token, Op op) {
        return boost::asio::async_initiate<Token, void(error_code, std::size_t)>(
            [this, op](auto handler, const Buffers& b) {
                if (m_tls) {
                    op(*m_tls, b, std::move(handler));
                } else {
                    op(m_socket, b, std::move(handler));
                }
            },
            token, buffers);
    }

    tcp::socket m_socket;
    std::unique_ptr<TlsStream> m_tls;  ///< null: plain TCP
};

}  // namespace aftershock::net
