#pragma once
// TLS context set-up shared by the coordinator (HTTPS, worker client), the worker (protocol server) and the
// CLI (`aftershock load`): PEM files in, a ready boost::asio::ssl::context out, TLS 1.2 or newer only.
// Contexts are made once at start-up and shared by every connection (an SSL_CTX is safe to share once built).
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace aftershock::net {

using TlsContext = boost::asio::ssl::context;

struct TlsFiles {
    std::string cert;  ///< certificate chain, PEM (leaf first)
    std::string key;   ///< private key of the leaf, PEM (unencrypted)
    std::string ca;    ///< CA bundle, PEM, that the peer's certificate must chain to
};

/// Server side: presents cert + key; when `ca` is set, every client must present a certificate signed by it
/// (mutual TLS). Throws UsageError naming the file that cannot be used (missing, unreadable, key/cert mismatch).
[[nodiscard]] std::shared_ptr<TlsContext> make_server_tls(const TlsFiles& files);

/// Client side: verifies the server's chain against `ca` (empty: the system's default trust store); presents
/// cert + key when both are set (mutual TLS). The server's name is checked per connection (Stream::set_peer_name).
[[nodiscard]] std::shared_ptr<TlsContext> make_client_tls(const TlsFiles& files);

}  // namespace aftershock::net
