#include "aftershock/common/net/stream.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <openssl/ssl.h>

namespace aftershock::net {

namespace ssl = boost::asio::ssl;

Stream::Stream(tcp::socket socket, ssl::context* tls) : m_socket(std::move(socket)) {
    if (tls != nullptr) m_tls = std::make_unique<TlsStream>(m_socket, *tls);
}

void Stream::reset(tcp::socket socket, ssl::context* tls) {
    m_tls.reset();
    m_socket = std::move(socket);
    if (tls != nullptr) m_tls = std::make_unique<TlsStream>(m_socket, *tls);
}

void Stream::set_peer_name(const std::string& host) {
    if (!m_tls) return;
    m_tls->set_verify_callback(ssl::host_name_verification(host));
    boost::system::error_code not_ip;
    (void)boost::asio::ip::make_address(host, not_ip);
    // SNI carries names only (RFC 6066); the certificate check above handles IP addresses too.
    if (not_ip) SSL_set_tlsext_host_name(m_tls->native_handle(), host.c_str());
}

}  // namespace aftershock::net
